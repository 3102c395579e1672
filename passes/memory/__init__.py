"""Memory planning: every intermediate tensor of an engine gets an offset in one arena.

`planner` is the algorithm alone (buffers with sizes and live intervals in, offsets out)
so that it can be tested on any interval set; the pass over the `kernel` plan feeds it
the buffers of the launch order and writes the offsets back into the IR.
"""
