"""benchmarks/trace_summary.py: device time from a perfetto trace, attributed to source lines."""

import os
import sys

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import trace_summary  # noqa: E402


def _gpu_like_trace():
    """A trace as jax writes it for one GPU: kernels on a stream thread, overlapped by the
    'XLA Modules' summary line, plus host threads."""
    meta = [
        {"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "/device:GPU:0"}},
        {"ph": "M", "name": "process_name", "pid": 2, "args": {"name": "/host:CPU"}},
        {"ph": "M", "name": "thread_name", "pid": 1, "tid": 7, "args": {"name": "Stream #14(Compute)"}},
        {"ph": "M", "name": "thread_name", "pid": 1, "tid": 8, "args": {"name": "XLA Modules"}},
        {"ph": "M", "name": "thread_name", "pid": 2, "tid": 9, "args": {"name": "python3"}},
    ]
    x = lambda pid, tid, name, ts, dur: {"ph": "X", "pid": pid, "tid": tid, "name": name,
                                         "ts": ts, "dur": dur}
    return {"traceEvents": meta + [
        x(1, 7, "nvjet_sm90_tst_128x160_64x5_2x1_v_bz_NNT", 0, 60.0),
        x(1, 7, "loop_select_fusion_2", 60, 30.0),
        x(1, 7, "loop_select_fusion_2", 100, 10.0),
        x(1, 8, "jit_train_step", 0, 110.0),           # the module: overlaps the kernels
        x(2, 9, "block_until_ready", 0, 500.0),
    ]}


def test_device_time_counts_the_stream_kernels_only():
    per_kernel, span = trace_summary.time_by_name(_gpu_like_trace(), "kernels")
    assert per_kernel == {"nvjet_sm90_tst_128x160_64x5_2x1_v_bz_NNT": 60.0,
                          "loop_select_fusion_2": 40.0}
    assert span == 110.0
    assert trace_summary.kernel_category("nvjet_sm90_tst_128x160_64x5_2x1_v_bz_NNT") == "matmul"
    assert trace_summary.kernel_category("loop_select_fusion_2") == "other"
    assert trace_summary.kernel_category("memcpy32_post") == "copy"


def _scaled_tanh(x):
    return jnp.tanh(x * 3.0) + 1.0                    # the line the fusions must point to


def test_fusions_are_attributed_to_the_source_line_that_made_them():
    x = jnp.ones((64, 64))
    text = jax.jit(lambda a: _scaled_tanh(a) @ a).lower(x).compile().as_text()
    sources = trace_summary.fusion_sources(text, package="tests/")
    line = _scaled_tanh.__code__.co_firstlineno + 1
    here = f"tests/test_benchmarks_trace_summary.py:{line} _scaled_tanh"
    assert here in sources.values(), sources
    fusion = next(name for name, where in sources.items() if where == here)
    by_source = trace_summary.time_by_source({fusion: 5.0, "nvjet_gemm": 7.0}, sources)
    assert by_source == {here: 5.0, "(unattributed matmul)": 7.0}
