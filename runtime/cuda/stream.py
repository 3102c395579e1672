"""Streams, events and graphs: where work is ordered, timed and captured for replay.

Asynchronous errors. A fault inside a kernel surfaces at the next call that waits for it
(usually a synchronize); that error names the last kernel launched on the stream. Set
CUDA_LAUNCH_BLOCKING=1 to make each launch wait, so the error comes from the kernel's own
launch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from cuda.bindings import driver as cu

from runtime.cuda.device import current_context
from runtime.cuda.driver import _SUCCESS, _call, _Resource
from runtime.cuda.errors import CudaError


def _stream_handle(stream: Stream | None):
    return 0 if stream is None else stream.handle


class Stream(_Resource):
    """A stream that does not synchronise with the legacy default stream.

    `last_kernel` is the name of the last kernel launched on it, for error messages.
    """

    def __init__(self):
        current_context()
        self.handle = _call(cu.cuStreamCreate, cu.CUstream_flags.CU_STREAM_NON_BLOCKING)
        self._closed = False
        self.last_kernel: str | None = None

    def _release(self) -> None:
        _call(cu.cuStreamDestroy, self.handle)

    def synchronize(self) -> None:
        after = (
            f"the last kernel launched on this stream was '{self.last_kernel}'" if self.last_kernel else ""
        )
        _call(cu.cuStreamSynchronize, self.handle, kernel=None, detail=after)

    @contextlib.contextmanager
    def capture(self, mode: str = "global") -> Iterator[Graph]:
        """Records the work issued to this stream inside the block as a Graph (not run now).

            with stream.capture() as graph:
                kernel.launch(..., stream=stream)
            graph.launch(stream)

        `mode` is "global" (CUDA's default: unsafe calls such as cuMemAlloc from any thread
        invalidate the capture), "thread_local" or "relaxed".
        """
        modes = {
            "global": cu.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_GLOBAL,
            "thread_local": cu.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL,
            "relaxed": cu.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_RELAXED,
        }
        _call(cu.cuStreamBeginCapture, self.handle, modes[mode])
        graph = Graph()
        try:
            yield graph
        except BaseException:
            status, captured = cu.cuStreamEndCapture(self.handle)  # leave the stream usable
            if status == _SUCCESS and int(captured):
                cu.cuGraphDestroy(captured)
            raise
        graph._instantiate(_call(cu.cuStreamEndCapture, self.handle))


class Event(_Resource):
    """A point in a stream; with `timing`, two of them measure the device time between."""

    def __init__(self, timing: bool = True):
        current_context()
        flags = cu.CUevent_flags.CU_EVENT_DEFAULT if timing else cu.CUevent_flags.CU_EVENT_DISABLE_TIMING
        self.handle = _call(cu.cuEventCreate, flags)
        self._closed = False

    def _release(self) -> None:
        _call(cu.cuEventDestroy, self.handle)

    def record(self, stream: Stream | None = None) -> Event:
        _call(cu.cuEventRecord, self.handle, _stream_handle(stream))
        return self

    def synchronize(self) -> None:
        _call(cu.cuEventSynchronize, self.handle)

    def elapsed_ms(self, end: Event) -> float:
        """Milliseconds of device time from this event to `end` (waits for `end`)."""
        end.synchronize()
        return _call(cu.cuEventElapsedTime, self.handle, end.handle)


class Graph(_Resource):
    """An instantiated CUDA graph, made by `Stream.capture()`; `launch` replays it."""

    def __init__(self):
        self.graph = None
        self.handle = None  # the executable graph, once captured

    def _instantiate(self, graph) -> None:
        self.graph = graph
        self._closed = False
        self.handle = _call(cu.cuGraphInstantiate, graph, 0)

    def _release(self) -> None:
        if self.handle is not None:
            _call(cu.cuGraphExecDestroy, self.handle)
        _call(cu.cuGraphDestroy, self.graph)

    @property
    def node_count(self) -> int:
        _, count = _call(cu.cuGraphGetNodes, self.graph, 0)
        return count

    def launch(self, stream: Stream | None = None) -> None:
        if self.handle is None:
            raise CudaError("cuGraphLaunch", "no graph", detail="the capture has not ended yet")
        _call(cu.cuGraphLaunch, self.handle, _stream_handle(stream))
