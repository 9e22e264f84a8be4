"""Module resolution and loading with k6's rules (runtime.md §5).

Specifiers become module ids: built-ins keep their path (``k6/metrics``), local files
become ``file:///abs/path.js`` (so stack traces show k6-style file URLs), remote modules
keep their ``https://`` URL. jslib modules we ship are served from the package, so the
usual ``https://jslib.k6.io/k6-utils/1.4.0/index.js`` import works offline; any other
``https://`` module is downloaded once per run into a cache folder.
"""

from __future__ import annotations

import os
import re
import threading
import urllib.parse
from importlib import resources

from .errors import ModuleNotFound

_MISSING_FILE = (
    "The moduleSpecifier \"{spec}\" couldn't be found on local disk. Make sure that you've specified "
    "the right path to the file. If you're running k6 using the Docker image make sure you have "
    "mounted the local directory (-v /local/path/:/inside/docker/path) containing your script and "
    "modules so that they're accessible by k6 from inside of the container, see "
    "https://grafana.com/docs/k6/latest/using-k6/modules/#use-modules-with-docker."
)

#: built-in module path -> shim file in jsrunner/bindings/js
BUILTINS: dict[str, str] = {
    "k6": "k6.js",
    "k6/timers": "timers.js",
    "k6/experimental/timers": "timers.js",
    "k6/execution": "execution.js",
    "k6/metrics": "metrics.js",
    "k6/encoding": "encoding.js",
    "k6/crypto": "crypto.js",
    "k6/data": "data.js",
    "k6/ws": "ws.js",
    "k6/websockets": "websockets.js",
    "k6/experimental/websockets": "websockets.js",
}

#: built-ins k6 removed or graduated: importing them fails with k6's own text
GONE: dict[str, str] = {
    "k6/experimental/browser": "k6/experimental/browser has been graduated, please use k6/browser instead. See https://grafana.com/docs/k6/latest/javascript-api/k6-browser/ for more information.",
    "k6/experimental/tracing": "k6/experimental/tracing has been removed. All of it functionality is available as pure javascript module. More info available at the docs: https://grafana.com/docs/k6/latest/javascript-api/jslib/http-instrumentation-tempo",
    "k6/experimental/webcrypto": "k6/experimental/webcrypto has been graduated and it's now globally available as defined by standard WebAPIs. You just need to remove the import.",
    "k6/experimental/grpc": "k6/experimental/grpc has been graduated, please use k6/net/grpc instead. See https://grafana.com/docs/k6/latest/javascript-api/k6-net-grpc/ for more information.",
}

#: the entry module each VU evaluates, and the one module only it may import: the VU
#: runtime (runtime.js), then the VU's globals from the entry eval's ``dukpy`` values
ENTRY_ID = "jsrunner:entry"
RUNTIME_ID = "jsrunner:runtime"
_RUNTIME_TAIL = "\n__k6.setVU(dukpy.id); __k6.setEnv(dukpy.env); __k6.throwMode = dukpy.throw;\n"

#: jslib modules shipped with jsrunner: URL pattern -> file in jsrunner/bindings/jslib
_JSLIB = [
    (re.compile(r"^https://jslib\.k6\.io/k6-utils/[0-9.]+/index\.js$"), "k6-utils.js"),
    (re.compile(r"^https://jslib\.k6\.io/k6-summary/[0-9.]+/index\.js$"), "k6-summary.js"),
]


def bundled_source(folder: str, name: str) -> str:
    return resources.files("jsrunner.bindings").joinpath(folder, name).read_text(encoding="utf-8")


def file_url(path: str | os.PathLike[str]) -> str:
    return "file://" + urllib.parse.quote(os.path.abspath(path))


def url_to_path(url: str) -> str:
    return urllib.parse.unquote(urllib.parse.urlparse(url).path)


class ModuleLoader:
    """Resolves and loads modules for one run; sources are cached across VUs."""

    def __init__(self, main_script: str, *, cache_dir: str | None = None, allow_remote: bool = True) -> None:
        self.main_id = file_url(main_script)
        self.cache_dir = cache_dir or os.path.join(
            os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "jsrunner", "modules")
        self.allow_remote = allow_remote
        self._sources: dict[str, str] = {}
        self._lock = threading.Lock()
        #: every local file and remote module loaded (for shipping a test to other machines)
        self.loaded_files: list[str] = []
        #: files read by ``open()`` in the first init (the options pass); later inits may
        #: open only these (k6: "files that weren't previously opened during initialization")
        self.opened_files: set[str] = set()
        #: the runtime of that first init (set by the ``open`` binding when runtimes start)
        self.first_init: object | None = None

    # ---- resolution --------------------------------------------------------------------
    def resolve(self, base: str, spec: str) -> str:
        if spec.startswith("\0"):
            return spec
        if spec == RUNTIME_ID and base == ENTRY_ID:
            return spec
        if spec == "k6" or spec.startswith("k6/"):
            if spec in BUILTINS:
                return spec
            raise ModuleNotFound(GONE.get(spec, f"unknown module: {spec}"))
        if spec.startswith(("./", "../", "/")) or spec in (".", ".."):
            if base.startswith("https://"):
                return urllib.parse.urljoin(base, spec)
            if spec.startswith("/"):
                return file_url(spec)
            base_dir = os.path.dirname(url_to_path(base)) if base.startswith("file://") else os.getcwd()
            return file_url(os.path.normpath(os.path.join(base_dir, spec)))
        scheme = spec.split(":", 1)[0].lower() if ":" in spec else ""
        if scheme == "file":
            return file_url(url_to_path(spec))
        if scheme == "https":
            return spec
        if scheme and re.match(r"^[a-z][a-z0-9+.-]*$", scheme) and "://" in spec:
            raise ModuleNotFound(f"only supported schemes for imports are file and https, {spec} has `{scheme}`")
        if spec.startswith(("github.com/", "cdnjs.com/")):
            raise ModuleNotFound(
                f"{spec} was an import from a 'special' url, which are no longer supported, please use the full url instead")
        raise ModuleNotFound(f"The moduleSpecifier \"{spec}\" couldn't be recognised as something k6 supports.")

    def is_loaded(self, module_id: str) -> bool:
        """Whether any VU has imported ``module_id`` so far."""
        return module_id in self._sources

    @staticmethod
    def is_bundled(module_id: str) -> bool:
        """jsrunner's own JS (the VU runtime, the k6 module shims): the engine keeps no
        function source of these in the VUs (k6's functions are Go: ``String(check)``
        shows ``[native code]`` there too)."""
        return module_id == RUNTIME_ID or module_id in BUILTINS

    # ---- loading -----------------------------------------------------------------------
    def load(self, module_id: str) -> tuple[str, str]:
        with self._lock:
            cached = self._sources.get(module_id)
        if cached is not None:
            return module_id, cached
        source = self._fetch(module_id)
        with self._lock:
            self._sources[module_id] = source
        return module_id, source

    def _fetch(self, module_id: str) -> str:
        if module_id == RUNTIME_ID:
            return bundled_source("js", "runtime.js") + _RUNTIME_TAIL
        if module_id in BUILTINS:
            return bundled_source("js", BUILTINS[module_id])
        if module_id.startswith("file://"):
            path = url_to_path(module_id)
            try:
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
            except FileNotFoundError:
                raise ModuleNotFound(_MISSING_FILE.format(spec=self._display(module_id))) from None
            except IsADirectoryError:
                raise ModuleNotFound(_MISSING_FILE.format(spec=self._display(module_id))) from None
            self.loaded_files.append(path)
            return strip_shebang(text)
        if module_id.startswith("https://"):
            for pattern, name in _JSLIB:
                if pattern.match(module_id):
                    return bundled_source("jslib", name)
            return self._download(module_id)
        raise ModuleNotFound(f"unknown module: {module_id}")

    def _display(self, module_id: str) -> str:
        path = url_to_path(module_id)
        main_dir = os.path.dirname(url_to_path(self.main_id))
        rel = os.path.relpath(path, main_dir)
        return rel if rel.startswith("..") else "./" + rel

    def _download(self, url: str) -> str:
        import hashlib  # here, not at the top: it maps OpenSSL's libcrypto (~3.5 MB of RSS)
        key = hashlib.sha256(url.encode()).hexdigest()[:32]
        cached = os.path.join(self.cache_dir, key + ".js")
        if os.path.exists(cached):
            with open(cached, encoding="utf-8") as fh:
                return fh.read()
        if not self.allow_remote:
            raise ModuleNotFound(f"remote module {url} is not in the cache and remote imports are disabled")
        import urllib.error
        import urllib.request
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - https only (checked above)
                text = resp.read().decode("utf-8")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ModuleNotFound(f"couldn't download module {url} (offline or unreachable: {reason})") from None
        os.makedirs(self.cache_dir, exist_ok=True)
        tmp = cached + f".{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, cached)
        return text


def strip_shebang(source: str) -> str:
    if source.startswith("#!"):
        nl = source.find("\n")
        return "//" + source[2:] if nl == -1 else "//" + source[2:]
    return source
