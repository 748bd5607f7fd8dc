#!/usr/bin/python3
"""cpuport bench report: reads build/bench/raw.tsv and logs/ (written by
tests/bench/run.sh), prints the results table and writes results.md,
results.json and chart.png (gnuplot) into the same directory.

    report.py OUTDIR TOP
"""
import datetime
import glob
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from collections import defaultdict

OUT, TOP = sys.argv[1], sys.argv[2]
GOAL_RATIO, GOAL_TPUT, GOAL_SCAN, GOAL_RSS_MIB = 1.05, 0.97, 1e6, 16
GOAL_REPEAT, GOAL_HEAP = 1.02, 1.10

raw = defaultdict(list)  # (section, workload, mode, key) -> [(rep, value)]
with open(os.path.join(OUT, "raw.tsv")) as f:
    next(f)
    for line in f:
        sec, wl, mode, rep, key, val = line.rstrip("\n").split("\t")
        try:
            val = float(val)
        except ValueError:
            pass
        raw[(sec, wl, mode, key)].append((rep, val))


def vals(*k):
    return [v for _, v in raw.get(k, [])]


def med(xs):
    return statistics.median(xs) if xs else None


def quart(xs):
    if len(xs) < 4:
        return (min(xs), max(xs)) if xs else (None, None)
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]


def paired_ratio(a, b):
    """median over reps of a[rep]/b[rep] (same rep = adjacent in time)"""
    da, db = dict(a), dict(b)
    rs = [da[r] / db[r] for r in da if r in db and db[r]]
    return med(rs)


DUMP_RE = re.compile(r"cpuport: pid (\d+): recorded (\d+) slots .* from (\d+) objects "
                     r"\((\d+) relocations\) in ([\d.]+) ms")
REST_RE = re.compile(r"cpuport: pid (\d+): re-patched (\d+) slots \((\d+) unchanged, (\d+) lazy\), "
                     r"(\d+) cached states, (\d+) copied pointers in ([\d.]+) ms \((.*)\)")


def parse_dump(path):
    """sums over the processes of one dump: ms, relocs, objects, processes"""
    s = {"ms": 0.0, "relocs": 0, "objects": 0, "procs": 0}
    for line in open(path):
        m = DUMP_RE.search(line)
        if m:
            s["ms"] += float(m.group(5))
            s["relocs"] += int(m.group(4))
            s["objects"] += int(m.group(3))
            s["procs"] += 1
    return s if s["procs"] else None


def parse_restore(path):
    """sums over the processes of one restore: total and each named part (ms)"""
    s = defaultdict(float)
    for line in open(path):
        m = REST_RE.search(line)
        if not m:
            continue
        s["procs"] += 1
        s["patched"] += int(m.group(2))
        s["total"] += float(m.group(7))
        for part in m.group(8).split(","):
            part = part.strip()
            if part.endswith(" ms"):
                part = part[:-3]
            name, _, num = part.rpartition(" ")
            try:
                s[name] += float(num)
            except ValueError:
                pass
    return dict(s) if s else None


def logs(pattern):
    return sorted(glob.glob(os.path.join(OUT, "logs", pattern)))


res = {"host": {}, "overhead": [], "throughput": {}, "scan": {}, "memory": {}, "restore_split": [],
       "scale": [], "repeat": {}, "goals": []}


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""


cpu = sh("sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1")
res["host"] = {
    "cpu": cpu, "cpus": os.cpu_count(), "kernel": platform.release(),
    "criu": sh("criu --version | sed -n 's/^Version: //p'"),
    "commit": sh(f"git -C {TOP} rev-parse --short HEAD") + (" (+ uncommitted changes)" if sh(
        f"git -C {TOP} status --porcelain --untracked-files=no -- plugin resolver proto") else ""),
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "runs": int(vals("meta", "-", "-", "runs")[0]), "rounds": int(vals("meta", "-", "-", "rounds")[0]),
    "seconds": int(vals("meta", "-", "-", "seconds")[0]),
    "loadavg_end": raw[("meta", "-", "-", "loadavg_end")][0][1],
}


def goal(name, value, target, op, unit=""):
    if op == "report":  # reported, no target
        res["goals"].append({"name": name, "value": value, "goal": "reported", "met": "reported"})
        return
    met = None if value is None else (value <= target if op == "<=" else value >= target)
    shown = f"{target / 1e6:g} M" if target >= 1e5 else f"{target:g}"
    res["goals"].append({"name": name, "value": value, "goal": f"{op} {shown}{unit}", "met": met})


# ---- 1. overhead
LOADS = [("fixture", "C fixture (build/fixtures/workload)"), ("python", "python3, stdlib C extensions"),
         ("tree", "process tree (tests/bench/tree.c)")]
for wl, label in LOADS:
    row = {"load": wl, "label": label}
    row["objects"] = int(vals("overhead", wl, "-", "objects")[0])
    row["processes"] = int(vals("overhead", wl, "-", "processes")[0])
    for phase in ("dump", "restore"):
        w = raw[("overhead", wl, "plugin", f"{phase}_us")]
        wo = raw[("overhead", wl, "none", f"{phase}_us")]
        mw, mwo = med([v for _, v in w]) / 1e3, med([v for _, v in wo]) / 1e3
        cw = raw[("overhead", wl, "plugin", f"{phase}_cpu_us")]
        cwo = raw[("overhead", wl, "none", f"{phase}_cpu_us")]
        cpu_w, cpu_wo = med([v for _, v in cw]) / 1e3, med([v for _, v in cwo]) / 1e3
        lw = med(vals("overhead", wl, "plugin", f"{phase}_log_us"))
        lwo = med(vals("overhead", wl, "none", f"{phase}_log_us"))
        row[phase] = {"with_ms": mw, "without_ms": mwo, "ratio": mw / mwo, "paired_ratio": paired_ratio(w, wo),
                      "log_with_ms": lw / 1e3, "log_without_ms": lwo / 1e3, "log_ratio": lw / lwo if lwo else None,
                      "with_iqr_ms": [x / 1e3 for x in quart([v for _, v in w])],
                      "without_iqr_ms": [x / 1e3 for x in quart([v for _, v in wo])], "runs": len(w),
                      "cpu_with_ms": cpu_w, "cpu_without_ms": cpu_wo, "cpu_ratio": cpu_w / cpu_wo}
        rss_w = med(vals("overhead", wl, "plugin", f"{phase}_rss_kb"))
        rss_wo = med(vals("overhead", wl, "none", f"{phase}_rss_kb"))
        row[phase]["criu_maxrss_kb"] = {"with": rss_w, "without": rss_wo, "delta": rss_w - rss_wo}
    d = [x for x in (parse_dump(p) for p in logs(f"overhead-{wl}-plugin-*.dump")) if x]
    r = [x for x in (parse_restore(p) for p in logs(f"overhead-{wl}-plugin-*.restore")) if x]
    for phase in ("dump", "restore"):
        row[phase]["hooks_ms"] = med(vals("overhead", wl, "plugin", f"{phase}_hooks_us")) / 1e3
        row[phase]["extra_ms"] = row[phase]["with_ms"] - row[phase]["without_ms"]
        row[phase]["extra_log_ms"] = row[phase]["log_with_ms"] - row[phase]["log_without_ms"]
    row["dump"]["plugin_ms"] = med([x["ms"] for x in d])
    row["dump"]["relocs"] = med([x["relocs"] for x in d])
    row["restore"]["plugin_ms"] = med([x["total"] for x in r])
    row["restore"]["plugin_parts_ms"] = {k: med([x.get(k, 0.0) for x in r]) for k in sorted(
        {k for x in r for k in x} - {"procs", "patched", "total"})}
    res["overhead"].append(row)
    goal(f"dump time ratio, {wl}", row["dump"]["ratio"], GOAL_RATIO, "<=")
    goal(f"restore time ratio, {wl}", row["restore"]["ratio"], GOAL_RATIO, "<=")

# ---- 2. throughput (iterations per CPU-second, per slice; slices paired by tag = round.cycle)
tp = {}
for mode in ("fresh-before", "masked", "fresh", "criu", "cpuport"):
    by_tag = defaultdict(list)
    for tag, v in raw[("throughput", "strbench", mode, "slice_ips")]:
        by_tag[tag].append(v)
    tags = {t: med(v) for t, v in by_tag.items()}
    b = {s_: (raw.get(("throughput", "strbench", mode, f"bound_{s_}")) or [(0, "-")])[0][1]
         for s_ in ("memcpy", "strlen", "strchr")}
    tp[mode] = {"ips": med(list(tags.values())), "by_tag": tags, "slices": sum(map(len, by_tag.values())),
                "bound": b}
for mode, base in (("masked", "fresh-before"), ("criu", "fresh"), ("cpuport", "fresh")):
    t, c = tp[mode]["by_tag"], tp[base]["by_tag"]
    pr = [t[k] / c[k] for k in t if k in c]
    tp[mode]["vs_fresh"] = med(pr)
    tp[mode]["vs_fresh_iqr"] = quart(pr)
    tp[mode]["vs_fresh_of_medians"] = tp[mode]["ips"] / tp[base]["ips"]
    tp[mode]["cycles"] = len(pr)
tp["fresh-before"]["bound"] = tp["fresh"]["bound"]
r = [x for x in (parse_restore(p) for p in logs("throughput-cpuport-*.restore")) if x]
tp["cpuport"]["patched_slots"] = med([x["patched"] for x in r])
res["throughput"] = tp
goal("upgrade throughput, cpuport / fresh", tp["cpuport"]["vs_fresh"], GOAL_TPUT, ">=")

# ---- 3. scan speed, memory
relocs = vals("scan", "python", "-", "relocs")
wall = vals("scan", "python", "-", "wall_ns")
cpu_ns = vals("scan", "python", "-", "cpu_ns")
pyrow = next(x for x in res["overhead"] if x["load"] == "python")
criu_rate = pyrow["dump"]["relocs"] / pyrow["dump"]["plugin_ms"] * 1e3 if pyrow["dump"]["plugin_ms"] else None
res["scan"] = {"relocs": med(relocs), "objects": med(vals("scan", "python", "-", "objects")),
               "slots": med(vals("scan", "python", "-", "slots")),
               "wall_ms": med(wall) / 1e6, "cpu_ms": med(cpu_ns) / 1e6,
               "relocs_per_cpu_s": med([a / b * 1e9 for a, b in zip(relocs, cpu_ns)]),
               "relocs_per_wall_s": med([a / b * 1e9 for a, b in zip(relocs, wall)]),
               "relocs_per_s_in_criu_dump": criu_rate, "runs": len(relocs)}
goal("scan speed, relocations per CPU-second", res["scan"]["relocs_per_cpu_s"], GOAL_SCAN, ">=")
goal("scan speed, relocations per second (wall, in criu dump)", criu_rate, GOAL_SCAN, ">=")

probe = defaultdict(dict)
for (sec, wl, mode, key), lst in raw.items():
    if sec == "probe":
        probe[mode][key] = [v for _, v in lst]
helper_kb = max(v for m in probe.values() for v in m["helper_maxrss_kb"])
lib_kb = max(a - b for m in probe.values() for a, b in zip(m["self_maxrss_kb"], m["self_rss_before_kb"]))
mem = {"helper_maxrss_kb": helper_kb, "library_restore_extra_kb": lib_kb}
for phase in ("dump", "restore"):
    mem[f"criu_{phase}_delta_kb"] = max(x[phase]["criu_maxrss_kb"]["delta"] for x in res["overhead"])
    mem[f"criu_{phase}_by_load"] = {x["load"]: x[phase]["criu_maxrss_kb"] for x in res["overhead"]}
res["memory"] = mem
res["fixed"] = {"plugin_load_ms": med(vals("fixed", "plugin", "-", "load_ns")) / 1e6,
                "init_ms": med(vals("fixed", "plugin", "-", "init_ns")) / 1e6}
goal("plugin's extra peak RSS in criu dump (MiB)", mem["criu_dump_delta_kb"] / 1024, GOAL_RSS_MIB, "<=", " MiB")
goal("plugin's extra peak RSS in criu restore (MiB)", mem["criu_restore_delta_kb"] / 1024, GOAL_RSS_MIB, "<=",
     " MiB")
goal("helper peak RSS (MiB)", helper_kb / 1024, GOAL_RSS_MIB, "<=", " MiB")

# ---- 4. restore split
PARTS = ["image", "helper", "pointer scan", "writes"]


def split_row(name, restores, criu_ms, probe_m=None):
    row = {"scenario": name, "criu_restore_ms": criu_ms, "runs": len(restores)}
    if restores:
        row["plugin_total_ms"] = med([x["total"] for x in restores])
        row["patched_slots"] = med([x["patched"] for x in restores])
        parts = {p: med([x.get(p, 0.0) for x in restores]) for p in PARTS}
        known = [p for p in PARTS if any(p in x for x in restores)]
        parts["other"] = med([x["total"] - sum(x.get(p, 0.0) for p in known) for x in restores])
        row["plugin_parts_ms"] = parts
        row["plugin_logs_parts"] = known
    if probe_m:
        g = lambda k: [v / 1e6 for v in probe_m[k]]
        row["probe_ms"] = {
            "image": med(g("image_ns")), "helper": med(g("select_ns")), "pointer scan": med(g("scan_ns")),
            "writes": med(g("patch_ns")),
            "other": med([t - s - c - p for t, s, c, p in zip(g("total_ns"), g("select_ns"), g("scan_ns"),
                                                              g("patch_ns"))]),
            "total": med([t + i for t, i in zip(g("total_ns"), g("image_ns"))]),
        }
        row["probe_patched_slots"] = med(probe_m["patched"])
    res["restore_split"].append(row)


for scen, label in (("same", "python, same CPU"), ("upgrade", "python, upgrade (SSE2 -> this CPU)"),
                    ("downgrade", "python, downgrade (-> westmere)")):
    split_row(label, [x for x in (parse_restore(p) for p in logs(f"split-{scen}-*.restore")) if x],
              med(vals("split", "python", scen, "restore_us")) / 1e3, probe.get(scen))
o = next(x for x in res["overhead"] if x["load"] == "tree")
split_row("tree, same CPU", [x for x in (parse_restore(p) for p in logs("overhead-tree-plugin-*.restore")) if x],
          o["restore"]["with_ms"])

# ---- 5. scale and repeated restores
def ratio_of(sec, wl, mode, key, base="none"):
    a, b = vals(sec, wl, mode, key), vals(sec, wl, base, key)
    return (med(a) / med(b)) if a and b and med(b) else None


SCALE = [("heap1024", "1 GiB written heap"), ("heap4096", "4 GiB written heap"),
         ("procs50x8", "50 processes x 8 threads"), ("dlopen200", "200 dlopen()ed objects")]
for wl, label in [(w, l) for w, l in SCALE] + [(k[1], k[1]) for k in raw if k[0] == "scale" and k[2] == "-"
                                                and k[3] == "objects" and k[1] not in dict(SCALE)]:
    if not vals("scale", wl, "-", "objects"):
        continue
    row = {"load": wl, "label": label, "objects": int(vals("scale", wl, "-", "objects")[0]),
           "processes": int(vals("scale", wl, "-", "processes")[0]),
           "threads": int(vals("scale", wl, "-", "threads")[0]),
           "rss_mib": vals("scale", wl, "-", "rss_kb")[0] / 1024, "runs": len(vals("scale", wl, "none", "dump_us"))}
    for phase, mode in (("dump", "plugin"), ("restore", "plugin"), ("restore_v2", "plugin-v2")):
        key = "dump_us" if phase == "dump" else "restore_us"
        w, wo = vals("scale", wl, mode, key), vals("scale", wl, "none", key)
        row[phase] = {"with_ms": med(w) / 1e3 if w else None, "without_ms": med(wo) / 1e3 if wo else None,
                      "ratio": ratio_of("scale", wl, mode, key),
                      "cpu_ratio": ratio_of("scale", wl, mode, key.replace("_us", "_cpu_us"))}
    rr = [x for x in (parse_restore(p) for p in logs(f"scale-{wl}-plugin-v2-*.restore")) if x]
    row["restore_v2"]["plugin_ms"] = med([x["total"] for x in rr]) if rr else None
    row["restore_v2"]["pointer_scan_ms"] = med([x.get("pointer scan", 0.0) for x in rr]) if rr else None
    rs = [x for x in (parse_restore(p) for p in logs(f"scale-{wl}-plugin-[0-9]*.restore")) if x]
    row["restore"]["plugin_ms"] = med([x["total"] for x in rs]) if rs else None
    res["scale"].append(row)
    if wl.startswith("heap"):
        goal(f"dump time ratio, {label}", row["dump"]["ratio"], GOAL_HEAP, "<=")
        worst = max((x for x in (row["restore"]["ratio"], row["restore_v2"]["ratio"]) if x is not None),
                    default=None)
        goal(f"restore time ratio, {label} (worst of same CPU and as on x86-64-v2)", worst, GOAL_HEAP, "<=")
    else:
        goal(f"dump time ratio, {label}", row["dump"]["ratio"], None, "report")
        goal(f"restore time ratio, {label}", row["restore"]["ratio"], None, "report")
        goal(f"restore time ratio, {label}, as on x86-64-v2", row["restore_v2"]["ratio"], None, "report")
if vals("repeat", "python", "none", "restore_us"):
    w, wo = vals("repeat", "python", "plugin", "restore_us"), vals("repeat", "python", "none", "restore_us")
    rr = [x for x in (parse_restore(p) for p in logs("repeat-plugin-*.restore")) if x]
    res["repeat"] = {"with_ms": med(w) / 1e3, "without_ms": med(wo) / 1e3,
                     "ratio": med(w) / med(wo), "paired_ratio": paired_ratio(raw[("repeat", "python", "plugin",
                                                                                  "restore_us")],
                                                                              raw[("repeat", "python", "none",
                                                                                   "restore_us")]),
                     "cpu_ratio": ratio_of("repeat", "python", "plugin", "restore_cpu_us"),
                     "plugin_ms": med([x["total"] for x in rr]) if rr else None,
                     "plugin_parts_ms": {k: med([x.get(k, 0.0) for x in rr]) for k in PARTS} if rr else {},
                     "runs": len(w)}
    goal("repeated restore of one python3 checkpoint, time ratio", res["repeat"]["ratio"], GOAL_REPEAT, "<=")

with open(os.path.join(OUT, "results.json"), "w") as f:
    json.dump(res, f, indent=1, default=str)

# ---- markdown
def ms(x):
    return "-" if x is None else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def ok(x):
    return "n/a" if x is None else x if isinstance(x, str) else "met" if x else "**missed**"


h = res["host"]
md = [f"# cpuport benchmarks", "",
      f"{h['date']}; {h['cpu']}, {h['cpus']} CPUs, kernel {h['kernel']}, criu {h['criu']}, cpuport {h['commit']}; "
      f"{h['runs']} runs per mode, {h['rounds']} throughput rounds, {h['seconds']} s; load average at the end "
      f"{h['loadavg_end']}. Medians; ratios are with/without.", "",
      "## 1. Overhead: criu wall time with the plugin vs without (empty -L dir), interleaved", "",
      "| load | objects | procs | criu | without plugin | with plugin | **ratio** (wall) | ratio (criu log) | "
      "ratio (CPU) | plugin's own |",
      "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
for o in res["overhead"]:
    for phase, own in (("dump", "scan"), ("restore", "restore")):
        d = o[phase]
        md.append(f"| {o['label']} | {o['objects']} | {o['processes']} | {phase} | {ms(d['without_ms'])} ms "
                  f"| {ms(d['with_ms'])} ms | **{d['ratio']:.2f}** | {d['log_ratio']:.2f} | {d['cpu_ratio']:.2f} "
                  f"| {own} {ms(d['plugin_ms'])} ms |")
md += ["", "Medians of the criu command's wall time; the ratio is with/without.  \"criu log\": criu's own "
       "elapsed time at its last log line (leaves out exec and exit).  \"CPU\": criu's CPU time (user + system, "
       "with the children it reaps, such as cpuport-select), which other load on the machine disturbs less. "
       "\"plugin's own\": what the plugin's summary lines report (summed over the processes).", "",
       "Where the extra time goes (medians, ms).  \"in hooks\": the plugin's per-process hooks as criu's log "
       "timestamps show them (dump: scan, then writing the image with fsync; restore: reading the image, "
       "re-selecting, patching), of which the plugin's summary lines name the part shown.  \"outside hooks\": "
       "the rest of the extra time in criu's log: loading the plugin and its libraries (capstone, libelf, "
       "libcpuid, protobuf-c) and its init (CPU identification).  Extra wall minus extra criu log: before "
       "criu's first and after its last log line (exit).", "",
       "| load | criu | extra wall | extra (criu log) | in hooks (criu log) | of which named by the plugin | "
       "outside hooks (± noise) |",
       "|---|---|---:|---:|---:|---:|---:|"]
for o in res["overhead"]:
    for phase, own in (("dump", "scan"), ("restore", "total")):
        d = o[phase]
        md.append(f"| {o['load']} | {phase} | {ms(d['extra_ms'])} | {ms(d['extra_log_ms'])} | {ms(d['hooks_ms'])} "
                  f"| {own} {ms(d['plugin_ms'])} | {ms(d['extra_log_ms'] - d['hooks_ms'])} |")
fx = res["fixed"]
md += ["", f"Measured directly, once per criu run: loading the plugin and its libraries (dlopen in a fresh "
       f"process) **{ms(fx['plugin_load_ms'])} ms**, its init (cpuport_ctx__new: CPU identification) "
       f"**{ms(fx['init_ms'])} ms**.  \"outside hooks\" is a difference of medians and carries the noise of "
       f"both."]
md += ["", "## 2. Upgrade: a memcpy/strlen/strchr loop started masked to SSE2, dumped and restored", "",
       "Iterations per CPU-second; the three processes run in turn (one at a time), and each ratio is the median "
       "over cycles of the ratio within a cycle.", "",
       "| process | iterations per CPU-s | vs fresh (IQR) | memcpy | strlen | strchr |", "|---|---:|---:|---|---|---|"]
for mode, label in (("fresh", "(c) fresh start, unmasked"), ("masked", "masked, before the dump"),
                    ("criu", "(a) restored by criu alone (CPUPORT_DISABLE=1)"), ("cpuport", "(b) restored with cpuport")):
    t = tp[mode]
    rel = "1" if mode == "fresh" else f"**{t['vs_fresh']:.3f}** ({t['vs_fresh_iqr'][0]:.3f}-{t['vs_fresh_iqr'][1]:.3f})"
    md.append(f"| {label} | {t['ips']:.0f} | {rel} | {t['bound']['memcpy']} | {t['bound']['strlen']} "
              f"| {t['bound']['strchr']} |")
s = res["scan"]
md += ["", "## 3. Scan speed and memory", "",
       f"- python3 process, {s['objects']:.0f} objects, {s['relocs']:.0f} relocation entries, {s['slots']:.0f} "
       f"slots: `cpuport_scan()` takes {ms(s['cpu_ms'])} ms of CPU = **{s['relocs_per_cpu_s'] / 1e6:.2f} M "
       f"relocations per CPU-second** ({ms(s['wall_ms'])} ms wall = {s['relocs_per_wall_s'] / 1e6:.2f} M/s on this "
       f"shared machine); inside `criu dump` (the plugin's summary line, wall) **{(criu_rate or 0) / 1e6:.2f} M/s**.",
       f"- criu's peak RSS, plugin's extra (worst load): dump **{mem['criu_dump_delta_kb'] / 1024:.1f} MiB**, "
       f"restore (includes the helper, a reaped child) **{mem['criu_restore_delta_kb'] / 1024:.1f} MiB**; "
       + ", ".join(f"{k}: {v['without'] / 1024:.1f} -> {v['with'] / 1024:.1f}"
                   for k, v in mem["criu_dump_by_load"].items()) + " MiB at dump.",
       f"- cpuport-select peak RSS (python3 restore, probe): **{helper_kb / 1024:.1f} MiB**; the library's "
       f"restore work in the probe adds {lib_kb / 1024:.1f} MiB.", "",
       "## 4. Where restore time goes (ms, medians)", "",
       "| scenario | slots changed | criu restore | plugin total | image | helper | pointer scan | writes | other |",
       "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
for row in res["restore_split"]:
    if "plugin_parts_ms" in row:
        p = row["plugin_parts_ms"]
        cells = [ms(p[k]) if k in row["plugin_logs_parts"] or k == "other" else "?" for k in PARTS + ["other"]]
        md.append(f"| {row['scenario']} (in criu) | {row['patched_slots']:.0f} | {ms(row['criu_restore_ms'])} | "
                  f"{ms(row['plugin_total_ms'])} | " + " | ".join(cells) + " |")
    if "probe_ms" in row:
        p = row["probe_ms"]
        md.append(f"| {row['scenario']} (probe) | {row['probe_patched_slots']:.0f} | | {ms(p['total'])} | "
                  + " | ".join(ms(p[k]) for k in PARTS + ["other"]) + " |")
md += ["", "\"other\": verifying every recorded object against the process's files (ELF and build-id), "
       "planning and building the helper's request: the part of the total the summary line does not name."]
if res["scale"]:
    md += ["", "## 5. Scale: criu with the plugin vs without (medians, interleaved)", "",
           "Restored as here (same CPU: no variant changes, no pointer scan) and, the same checkpoint again, as on "
           "x86-64-v2 (variants change: every private writable word is checked for copied pointers).", "",
           "| load | objects | procs | threads | RSS | dump (without -> with) | ratio | restore | ratio | "
           "restore as x86-64-v2 | ratio | pointer scan |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for o in res["scale"]:
        def cell(d):
            if d["ratio"] is None:
                return "- | -"
            return f"{ms(d['without_ms'])} -> {ms(d['with_ms'])} ms | **{d['ratio']:.3f}**"
        md.append(f"| {o['label']} | {o['objects']} | {o['processes']} | {o['threads']} | {o['rss_mib']:.0f} MiB "
                  f"| {cell(o['dump'])} | {cell(o['restore'])} | {cell(o['restore_v2'])} "
                  f"| {ms(o['restore_v2']['pointer_scan_ms'])} ms |")
    md += ["", f"{res['scale'][0]['runs']} runs per mode; \"pointer scan\": the plugin's own figure, summed over "
           "the processes of one restore."]
if res["repeat"]:
    rp = res["repeat"]
    md += ["", "## 6. Repeated restore: one python3 checkpoint restored again and again", "",
           f"{rp['runs']} restores per mode, interleaved: criu restore **{ms(rp['without_ms'])} ms** without the "
           f"plugin, **{ms(rp['with_ms'])} ms** with it: ratio **{rp['ratio']:.3f}** (paired "
           f"{rp['paired_ratio']:.3f}, CPU {rp['cpu_ratio']:.3f}); the plugin's own time "
           f"{ms(rp['plugin_ms'])} ms (" + ", ".join(f"{k} {ms(v)}" for k, v in rp["plugin_parts_ms"].items())
           + " ms)."]
md += ["", "## Goals", "", "| goal | value | target | |", "|---|---:|---|---|"]
for g in res["goals"]:
    v = g["value"]
    vs = "-" if v is None else f"{v / 1e6:.2f} M" if v > 1e5 else f"{v:.3f}" if v < 10 else f"{v:.1f}"
    md.append(f"| {g['name']} | {vs} | {g['goal']} | {ok(g['met'])} |")
text = "\n".join(md) + "\n"
with open(os.path.join(OUT, "results.md"), "w") as f:
    f.write(text)
print(text)

# ---- chart
dat = os.path.join(OUT, "chart")
with open(dat + "-overhead.dat", "w") as f:
    for o in res["overhead"]:
        f.write(f"\"{o['load']}\" {o['dump']['ratio']:.4f} {o['restore']['ratio']:.4f}\n")
with open(dat + "-tput.dat", "w") as f:
    for mode, label in (("masked", "masked\\nbefore dump"), ("criu", "(a) criu\\nalone"), ("cpuport", "(b) cpuport")):
        f.write(f"\"{label}\" {tp[mode]['vs_fresh']:.4f}\n")
SHORT = {"python, same CPU": "python\\nsame CPU", "tree, same CPU": "tree (20)\\nsame CPU",
         "python, upgrade (SSE2 -> this CPU)": "python\\nupgrade", "python, downgrade (-> x86-64-v2)": "python\\ndowngrade"}
with open(dat + "-split.dat", "w") as f:
    for row in res["restore_split"]:
        for src, key in (("", "plugin_parts_ms"), ("\\n(probe)", "probe_ms")):
            if key in row:
                p = row[key]
                name = SHORT.get(row["scenario"], row["scenario"]) + src
                f.write(f"\"{name}\" " + " ".join(f"{p[k]:.3f}" for k in PARTS + ["other"]) + "\n")
with open(dat + "-scale.dat", "w") as f:
    for o in res["scale"]:
        f.write(f"\"{o['load']}\" " + " ".join(f"{o[k]['ratio']:.4f}" if o[k]["ratio"] else "NaN"
                                              for k in ("dump", "restore", "restore_v2")) + "\n")
    if res["repeat"]:
        f.write(f"\"repeat\\npython3\" NaN {res['repeat']['ratio']:.4f} NaN\n")
    if not res["scale"] and not res["repeat"]:
        f.write("\"none\" 0 0 0\n")
gp = f"""
set terminal pngcairo size 2200,600 font ",10"
set output "{OUT}/chart.png"
set multiplot layout 1,4 title "cpuport benchmarks: {h['cpu']}, {h['cpus']} CPUs, {h['date']} (medians)"
set bmargin 5
set style data histograms
set style fill solid 0.8 border -1
set grid ytics
set key top left
set title "criu wall time, with plugin / without (goal <= {GOAL_RATIO})"
set style histogram clustered gap 1
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0
plot "{dat}-overhead.dat" using 2:xtic(1) title "dump", "" using 3 title "restore", \\
     "" using ($0-1./6):2:(sprintf("%.2f",$2)) with labels offset 0,0.7 notitle, \\
     "" using ($0+1./6):3:(sprintf("%.2f",$3)) with labels offset 0,0.7 notitle, \\
     {GOAL_RATIO} with lines dt 2 lw 2 lc rgb "red" title "goal"
set title "upgrade: iterations/CPU-s vs fresh unmasked start (goal >= {GOAL_TPUT})"
set yrange [0:1.25]
set offsets 0, 0, 0, 0
plot "{dat}-tput.dat" using 2:xtic(1) title "ratio to fresh" lc rgb "#4477aa", \\
     "" using 0:2:(sprintf("%.3f",$2)) with labels offset 0,0.7 notitle, \\
     {GOAL_TPUT} with lines dt 2 lw 2 lc rgb "red" title "goal"
set title "restore: the plugin's time per restore (ms), summed over processes"
set style histogram rowstacked
set yrange [0:*]
set offsets 0, 0, graph 0.05, 0
set key top left
set xtics font ",8"
plot "{dat}-split.dat" using 2:xtic(1) title "image", "" using 3 title "helper", "" using 4 title "pointer scan", \\
     "" using 5 title "writes", "" using 6 title "other (verify, plan)"
set title "scale and repeated restore: with / without (goals: heap <= {GOAL_HEAP}, repeat <= {GOAL_REPEAT})"
set style histogram clustered gap 1
set xtics font ",8"
plot "{dat}-scale.dat" using 2:xtic(1) title "dump", "" using 3 title "restore", "" using 4 title "restore as v2", \\
     {GOAL_HEAP} with lines dt 2 lw 2 lc rgb "red" title "heap goal", \\
     {GOAL_REPEAT} with lines dt 3 lw 2 lc rgb "dark-red" title "repeat goal"
unset multiplot
"""
with open(dat + ".gp", "w") as f:
    f.write(gp)
subprocess.run(["gnuplot", dat + ".gp"], check=True)
print(f"wrote {OUT}/results.md, results.json, chart.png (raw data: raw.tsv, logs/)")
