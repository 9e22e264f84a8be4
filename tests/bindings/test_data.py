"""k6/data SharedArray: read-only array semantics, init-only, built once per run across VUs."""

from __future__ import annotations

import os
import threading
import time

from jsrunner.bindings.data import SharedArrays, shared_arrays
from jsrunner.vu import VU

from . import _Iterations, first_line, make_context, run_script

HEAD = """
import { SharedArray } from 'k6/data';
import data from 'k6/data';
const out = (v) => console.log(JSON.stringify(v));
const err = (f) => { try { f(); return 'no error'; } catch (e) { return [e.name, e.message]; } };
"""


def test_array_semantics(tmp_path):
    src = HEAD + """
      const users = new SharedArray('users', function () {
        return [{ name: 'ann', roles: ['a', 'b'], meta: { n: 1 } }, { name: 'bob' }, 3, 'str', null, true];
      });
      out(['init', users.length]);
      export default function () {
        out([users.length, Array.isArray(users), users instanceof Array, users[0].name, users[0].roles[1]]);
        out([users[6], users[-1], users['1'].name, 0 in users, 6 in users, Object.keys(users)]);
        out(users.map((u) => typeof u));
        out(users.filter((u) => u && u.name).map((u) => u.name));
        out([users.find((u) => u === 3), users.findIndex((u) => u === 'str'), users.indexOf('str'),
             users.lastIndexOf(null), users.includes(true), users.some((u) => u === null),
             users.every((u) => u !== undefined), users.at(-1), users.join('|').length]);
        out([users.slice(1, 3), [...users.keys()], Array.from(users.values()).length, [...users.entries()][2]]);
        out([users.reduce((n, u) => n + (typeof u === 'number' ? u : 0), 0), users.reduceRight((s, u) => s + (u === null ? 'n' : typeof u)[0], '')]);
        let seen = 0; for (const u of users) seen++; users.forEach(() => seen++);
        out([seen, JSON.stringify(users), [...users].length]);
        out([Object.isFrozen(users[0]), Object.isFrozen(users[0].roles), Object.isFrozen(users[0].meta),
             users[0] === users[0]]);
        out(Object.keys(data));
      }
    """
    res = run_script(tmp_path, src)
    assert res.errors == [None], res.errors
    out = res.out
    assert out[0] == ["init", 6]
    assert out[1] == [6, True, True, "ann", "b"]
    assert out[2] == [None, None, "bob", True, False, ["0", "1", "2", "3", "4", "5"]]
    assert out[3] == ["object", "object", "number", "string", "object", "boolean"]
    assert out[4] == ["ann", "bob"]
    assert out[5] == [3, 3, 3, 4, True, True, True, True,
                      len("[object Object]|[object Object]|3|str||true")]
    assert out[6] == [[{"name": "bob"}, 3], [0, 1, 2, 3, 4, 5], 6, [2, 3]]
    assert out[7] == [3, "bnsnoo"]
    assert out[8] == [12, '[{"name":"ann","roles":["a","b"],"meta":{"n":1}},{"name":"bob"},3,"str",null,true]', 6]
    # elements are deep-frozen copies, parsed on every read (like k6)
    assert out[9] == [True, True, True, False]
    assert out[10] == ["SharedArray"]


def test_writes_throw(tmp_path):
    src = HEAD + """
      const arr = new SharedArray('w', () => [{ x: 1, list: [1] }, 2]);
      export default function () {
        out(err(() => { arr[0] = 5; }));
        out(err(() => { arr[9] = 5; }));
        out(err(() => { arr.length = 0; }));
        out(err(() => arr.push(3)));
        out(err(() => arr.pop()));
        out(err(() => arr.sort()));
        out(err(() => { delete arr[0]; }));
        out(err(() => Object.defineProperty(arr, 'y', { value: 1 })));
        out(err(() => { arr.custom = 1; }));
        const e1 = err(() => { arr[0].x = 2; });
        const e2 = err(() => { arr[0].list.push(2); });
        const e3 = err(() => { arr[0].added = 1; });
        out([e1[0], e2[0], e3[0], arr[0].x, arr[0].list.length, arr.length]);
        const copy = arr.map((v) => v); copy.push('ok'); out(copy.length);
      }
    """
    res = run_script(tmp_path, src)
    assert res.errors == [None], res.errors
    immutable = ["TypeError", "SharedArray is immutable"]
    assert res.out[:9] == [immutable] * 9
    assert res.out[9] == ["TypeError", "TypeError", "TypeError", 1, 1, 2]
    assert res.out[10] == 3


def test_constructor_errors(tmp_path):
    src = HEAD + """
      out(err(() => new SharedArray('', () => [])));
      out(err(() => new SharedArray('a', async () => [])));
      out(err(() => new SharedArray('b', async function () { return []; })));
      out(err(() => new SharedArray('c')));
      out(err(() => new SharedArray('d', [1, 2])));
      out(err(() => new SharedArray('e', () => ({ length: 1, 0: 'x' }))));
      out(err(() => new SharedArray('f', () => 'abc')));
      out(err(() => new SharedArray('g', () => undefined)));
      out(err(() => new SharedArray('h', () => { throw new Error('inner boom'); })));
      const named = new SharedArray(undefined, () => [1]);
      const again = new SharedArray('undefined', () => [2]);
      out([named[0], again[0]]);
      const bad = new SharedArray('bad', () => [1, undefined, () => 1]);
      out([bad.length, bad[0], err(() => bad[1])[0], err(() => bad[2])[0]]);
      const empty = new SharedArray('empty', () => []);
      out([empty.length, empty[0], empty.map((x) => x)]);
      export default function () {
        out(err(() => new SharedArray('late', () => [1])));
      }
    """
    res = run_script(tmp_path, src)
    assert res.init_error is None, res.init_error
    assert res.errors == [None]
    assert res.out == [
        ["GoError", "empty name provided to SharedArray's constructor"],
        ["GoError", "SharedArray constructor does not support async functions as second argument"],
        ["GoError", "SharedArray constructor does not support async functions as second argument"],
        ["GoError", "a function is expected as the second argument of SharedArray's constructor"],
        ["GoError", "a function is expected as the second argument of SharedArray's constructor"],
        ["GoError", "only arrays can be made into SharedArray"],
        ["GoError", "only arrays can be made into SharedArray"],
        ["TypeError", "Cannot convert undefined or null to object"],
        ["Error", "inner boom"],
        [1, 1],  # the name is String(name): the second call gets the stored array
        [3, 1, "SyntaxError", "SyntaxError"],
        [0, None, []],
        ["GoError", "new SharedArray must be called in the init context"],
    ]


def test_uncaught_in_iteration(tmp_path):
    src = HEAD + "export default function () { new SharedArray('x', () => []); }\n"
    res = run_script(tmp_path, src)
    assert first_line(res.errors[0]) == "GoError: new SharedArray must be called in the init context"


def _script(tmp_path, body: str) -> str:
    path = os.path.join(str(tmp_path), "shared.js")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(HEAD + body)
    return path


FN_LOGS = """
  const arr = new SharedArray('numbers', function () {
    console.log('"built by VU ' + __VU + '"');
    const t = Date.now(); while (Date.now() - t < (__ENV.SLOW ? 150 : 0)) { /* busy */ }
    const a = []; for (let i = 0; i < 1000; i++) a.push({ i: i, vu: __VU });
    return a;
  });
  out([__VU, arr.length, arr[999].i, arr[0].vu]);
  export default function () { out(['iter', __VU, arr[5].i]); }
"""


def test_built_once_per_run_across_vus(tmp_path):
    path = _script(tmp_path, FN_LOGS)
    ctx, result, console = make_context(path)
    vus = [VU(i, ctx) for i in (1, 2, 3)]
    for vu in vus:
        vu.initialise()
    vus[2].run_forever(_Iterations(1, result))
    lines = [ln for ln in console.getvalue().splitlines() if ln]
    assert lines.count('"built by VU 1"') == 1
    assert not any("built by VU 2" in ln or "built by VU 3" in ln for ln in lines)
    assert '[2,1000,999,1]' in lines and '[3,1000,999,1]' in lines  # VU 2 and 3 got VU 1's data
    assert '["iter",3,5]' in lines
    assert result.errors == [None]
    assert shared_arrays(ctx).names() == ["numbers"]
    # another run (another context) builds its own
    ctx2, _, console2 = make_context(path)
    VU(7, ctx2).initialise()
    assert '"built by VU 7"' in console2.getvalue()


def test_concurrent_inits_build_once(tmp_path):
    path = _script(tmp_path, FN_LOGS)
    ctx, result, console = make_context(path, env={"SLOW": "1"})
    vus = [VU(i, ctx) for i in range(1, 5)]
    errors: list[BaseException] = []

    def init(vu: VU) -> None:
        try:
            vu.initialise()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=init, args=(vu,)) for vu in vus]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a VU init hung"
    assert errors == []
    lines = [ln for ln in console.getvalue().splitlines() if ln]
    built = [ln for ln in lines if ln.startswith('"built by VU')]
    assert len(built) == 1
    builder = built[0].strip('"').split()[-1]
    seen = sorted(ln for ln in lines if ln.startswith("["))
    assert seen == [f"[{i},1000,999,{builder}]" for i in range(1, 5)]  # every VU has the builder's data


def test_failed_build_lets_the_next_vu_build(tmp_path):
    path = _script(tmp_path, """
      const arr = new SharedArray('flaky', function () {
        if (__VU === 1) throw new Error('VU 1 cannot build');
        console.log('"built by VU ' + __VU + '"');
        return [__VU];
      });
      out([__VU, arr[0]]);
    """)
    ctx, _, console = make_context(path)
    vu1 = VU(1, ctx)
    try:
        vu1.initialise()
    except Exception as exc:  # noqa: BLE001
        message = str(exc)
    else:
        message = ""
    assert "VU 1 cannot build" in message
    done = threading.Event()

    def init2() -> None:
        VU(2, ctx).initialise()
        done.set()

    threading.Thread(target=init2, daemon=True).start()
    assert done.wait(20), "VU 2 waited for a build that had failed"
    lines = console.getvalue().splitlines()
    assert '"built by VU 2"' in lines and "[2,2]" in lines


# ---- pure Python ---------------------------------------------------------------------------
def test_store_protocol():
    s = SharedArrays()
    assert s.acquire("a") is None  # caller builds
    got: list[object] = []
    t = threading.Thread(target=lambda: got.append(s.acquire("a")))
    t.start()
    time.sleep(0.05)
    assert got == [] and t.is_alive()  # waits for the builder
    s.store("a", ["1", "2"])
    t.join(5)
    assert got == [["1", "2"]]
    s.store("a", ["other"])  # first one wins
    assert s.get("a") == ["1", "2"]
    # a release hands the build to the next caller
    assert s.acquire("b") is None
    got2: list[object] = []
    t2 = threading.Thread(target=lambda: got2.append(s.acquire("b")))
    t2.start()
    time.sleep(0.05)
    s.release("b")
    t2.join(5)
    assert got2 == [None]
    # the same thread may nest a build of the same name without deadlocking
    assert s.acquire("c") is None and s.acquire("c") is None


def test_store_lives_on_the_run_context(tmp_path):
    ctx, _, _ = make_context(_script(tmp_path, ""))
    assert shared_arrays(ctx) is shared_arrays(ctx)
    ctx2, _, _ = make_context(_script(tmp_path, ""))
    assert shared_arrays(ctx2) is not shared_arrays(ctx)
