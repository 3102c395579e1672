"""Execution. The runtime knows nothing of passes: it runs IR or plans that the compiler made.

    reference/  the numpy interpreter: one implementation per op, every level (graph, fused,
                kernel), the semantics every pass is checked against
    cuda/       NVRTC compiles with a disk cache (the cubin and NVRTC's warnings) and a thin,
                checked driver layer: devices, memory, streams, events, CUDA graphs, kernels
    engine/     an engine as plain data (the plan), its file, the GPU runner that replays the
                launches as one CUDA graph, and the per-kernel profile
"""
