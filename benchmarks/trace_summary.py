"""Where a profiled step spends its device time, from a `jax.profiler.trace` perfetto file.

    python benchmarks/trace_summary.py TRACE_DIR [--top 25] [--steps N] [--hlo HLO.txt.gz]

Reads the newest ``perfetto_trace.json.gz`` under TRACE_DIR (written by
``jax.profiler.trace(TRACE_DIR, create_perfetto_trace=True)``; plain Chrome-trace JSON, so no
profiler plugin is needed) and prints the busy time of the device threads, split into matmul
kernels, copies and everything else (XLA's elementwise/reduction fusions), and the top kernels.
On CPU there are no device threads: the XLA op threads of the host are summarised instead.

--hlo: the same program's compiled HLO text (`benchmarks/train_step.py --hlo-out`). XLA names
each fusion's kernel after the fusion, so the kernels' time is also summed by the source line
that made each fusion (the innermost frame under genmo_jax/ of its op's stack trace). Library
kernels (cuBLAS, cuDNN) carry no fusion name and stay unattributed.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import pathlib
import re

_MATMUL = ("gemm", "xmma", "nvjet", "cutlass", "cublas", "matmul", "dot", "wgmma", "convolution")
_COPY = ("memcpy", "memset", "copy")


def kernel_category(name: str) -> str:
    """'matmul', 'copy' or 'other' for a device kernel (or XLA op) name."""
    low = name.lower()
    if any(k in low for k in _MATMUL):
        return "matmul"
    if any(k in low for k in _COPY):
        return "copy"
    return "other"


def read_trace(trace_dir: str) -> dict:
    files = sorted(pathlib.Path(trace_dir).rglob("perfetto_trace.json.gz"),
                   key=lambda p: p.stat().st_mtime)
    if not files:
        raise FileNotFoundError(f"{trace_dir}: no perfetto_trace.json.gz (was the trace written "
                                "with create_perfetto_trace=True?)")
    with gzip.open(files[-1], "rt") as f:
        return json.load(f)


def _thread_names(events) -> tuple[dict, dict]:
    procs = {e["pid"]: e.get("args", {}).get("name", "") for e in events
             if e.get("ph") == "M" and e.get("name") == "process_name"}
    threads = {(e["pid"], e["tid"]): e.get("args", {}).get("name", "") for e in events
               if e.get("ph") == "M" and e.get("name") == "thread_name"}
    return procs, threads


def pick_threads(procs: dict, threads: dict, kind: str) -> set:
    """(pid, tid) of the device's kernel streams (kind 'kernels') or its 'XLA Ops' line.

    A GPU process ('/device:GPU:0') holds one thread per CUDA stream ('Stream #13(...)') with
    the kernels, plus summary lines ('XLA Modules', 'XLA Ops', ...) that overlap them. With no
    device process (CPU), the host's 'XLA Ops' threads, or failing those every thread, stand in.
    """
    device = {p for p, n in procs.items() if "/device:" in n and "CPU" not in n}
    want = (lambda n: n.startswith("Stream")) if kind == "kernels" else (lambda n: n == "XLA Ops")
    picked = {pt for pt, n in threads.items() if pt[0] in device and want(n)}
    if not picked and not device:
        picked = {pt for pt, n in threads.items() if "XLA Ops" in n} or set(threads)
    return picked


def time_by_name(trace: dict, kind: str = "kernels") -> tuple[dict[str, float], float]:
    """(microseconds per event name, wall span in microseconds) on the picked threads."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    picked = pick_threads(*_thread_names(events), kind)
    per_name: dict[str, float] = collections.defaultdict(float)
    start, end = float("inf"), 0.0
    for e in events:
        if e.get("ph") == "X" and (e.get("pid"), e.get("tid")) in picked and "dur" in e:
            per_name[e["name"]] += float(e["dur"])
            start, end = min(start, float(e["ts"])), max(end, float(e["ts"]) + float(e["dur"]))
    return dict(per_name), max(end - start, 0.0)


def thread_busy(trace: dict) -> list[tuple[str, float]]:
    """(process / thread, busy microseconds) of every thread, busiest first: what was traced."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    procs, threads = _thread_names(events)
    busy: dict[str, float] = collections.defaultdict(float)
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            key = (e.get("pid"), e.get("tid"))
            busy[f"{procs.get(key[0], key[0])} / {threads.get(key, key[1])}"] += float(e["dur"])
    return sorted(busy.items(), key=lambda kv: -kv[1])


def _table_entries(lines, header: str) -> dict[int, str]:
    """The `N ...` rows of one of the HLO text's trailing tables (FileNames, StackFrames, ...)."""
    out, inside = {}, False
    for line in lines:
        if line.strip() == header:
            inside = True
        elif inside:
            m = re.match(r"^(\d+) (.*)$", line)
            if not m:
                break
            out[int(m.group(1))] = m.group(2)
    return out


def fusion_sources(hlo_text: str, package: str = "genmo_jax/") -> dict[str, str]:
    """{kernel name: 'file.py:line function'} for the fusions of a compiled HLO module.

    A fusion's source is its op's stack trace (metadata `stack_frame_id`, resolved through the
    module's StackFrames / FileLocations / FileNames / FunctionNames tables), innermost frame
    whose file is under `package`, else its innermost frame; a fusion line without a stack
    takes its fused computation's root's.
    Keys are the fusion names with '.' -> '_', which is how GPU kernels are named.
    """
    lines = hlo_text.splitlines()
    files = {k: v.strip('"') for k, v in _table_entries(lines, "FileNames").items()}
    functions = {k: v.strip('"') for k, v in _table_entries(lines, "FunctionNames").items()}
    locations = {}
    for k, v in _table_entries(lines, "FileLocations").items():
        f = dict(re.findall(r"(\w+)=(\d+)", v))
        locations[k] = (files.get(int(f["file_name_id"]), "?"),
                        functions.get(int(f["function_name_id"]), "?"), int(f["line"]))
    frames = {k: tuple(int(x) for x in re.findall(r"=(\d+)", v))
              for k, v in _table_entries(lines, "StackFrames").items()}

    def source(frame_id: int) -> str | None:
        seen, innermost = set(), None
        while frame_id in frames and frame_id not in seen:
            seen.add(frame_id)
            location_id, parent = frames[frame_id]
            path, function, line = locations.get(location_id, ("?", "?", 0))
            if package in path:
                return f"{path[path.index(package):]}:{line} {function}"
            if innermost is None:       # e.g. optax or flax code called from outside the package
                innermost = f"{'/'.join(path.split('/')[-3:])}:{line} {function}"
            frame_id = parent
        return innermost

    root_frame, fusion_calls = {}, {}
    computation = None
    for line in lines:
        head = re.match(r"^%?(\S+) \(.*\{$", line)
        if head:
            computation = head.group(1)
        m = re.match(r"^\s*(ROOT )?%(\S+) = .*", line)
        if not m:
            continue
        frame = re.search(r"stack_frame_id=(\d+)", line)
        if m.group(1) and frame and computation:
            root_frame[computation] = int(frame.group(1))
        if " fusion(" in line:
            calls = re.search(r"calls=%([^,\s]+)", line)
            fusion_calls[m.group(2)] = (int(frame.group(1)) if frame else None,
                                        calls.group(1) if calls else None)
    out = {}
    for name, (frame, calls) in fusion_calls.items():
        where = source(frame) if frame is not None else None
        if where is None and calls in root_frame:
            where = source(root_frame[calls])
        out[name.replace(".", "_")] = where or "(no genmo_jax frame)"
    return out


def time_by_source(per_kernel: dict[str, float], sources: dict[str, str]) -> dict[str, float]:
    """Kernel time summed by source line; kernels that are no fusion of the module are
    summed under '(unattributed <category>)'."""
    out: dict[str, float] = collections.defaultdict(float)
    for name, us in per_kernel.items():
        key = name.replace(".", "_")
        out[sources.get(key, f"(unattributed {kernel_category(name)})")] += us
    return dict(out)


def summarize(trace_dir: str, top: int = 25, steps: int = 1, hlo: str = "") -> str:
    trace = read_trace(trace_dir)
    lines = ["busiest threads (ms/step):"]
    lines += [f"  {us / 1e3 / steps:9.1f}  {name[:100]}" for name, us in thread_busy(trace)[:8]]
    seen = None
    for kind in ("kernels", "ops"):
        per_name, span = time_by_name(trace, kind)
        if per_name and per_name != seen:   # on CPU both kinds fall back to the same threads
            seen = per_name
            lines += [f"== device {kind}", _table(per_name, span, top, steps)]
    if hlo:
        opener = gzip.open if hlo.endswith(".gz") else open
        with opener(hlo, "rt") as f:
            sources = fusion_sources(f.read())
        per_kernel, span = time_by_name(trace, "kernels")
        lines += ["== device kernels by source line", _table(
            time_by_source(per_kernel, sources), span, top, steps, categorize=False)]
    return "\n".join(lines)


def _table(per_kernel: dict[str, float], span: float, top: int, steps: int,
           categorize: bool = True) -> str:
    busy = sum(per_kernel.values())
    by_cat: dict[str, float] = collections.defaultdict(float)
    for name, us in per_kernel.items():
        by_cat[kernel_category(name)] += us
    lines = [f"busy {busy / 1e3 / steps:.1f} ms/step over a span of "
             f"{span / 1e3 / steps:.1f} ms/step ({len(per_kernel)} distinct entries)"]
    if categorize:
        lines += [f"  {cat:<7} {us / 1e3 / steps:8.1f} ms/step  {us / max(busy, 1):6.1%}"
                  for cat, us in sorted(by_cat.items(), key=lambda kv: -kv[1])]
    lines.append(f"top {top} (ms/step, share of busy time):")
    for name, us in sorted(per_kernel.items(), key=lambda kv: -kv[1])[:top]:
        tag = f"[{kernel_category(name)}] " if categorize else ""
        lines.append(f"  {us / 1e3 / steps:8.2f}  {us / max(busy, 1):6.1%}  {tag}{name[:110]}")
    return "\n".join(lines)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("trace_dir")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--steps", type=int, default=1, help="steps the trace holds (for ms/step)")
    p.add_argument("--hlo", default="", help="the compiled HLO text (.txt or .txt.gz)")
    a = p.parse_args()
    print(summarize(a.trace_dir, a.top, a.steps, a.hlo))
