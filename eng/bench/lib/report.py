#!/usr/bin/env python3
"""Turns the benchmark's results.jsonl into the Markdown table and the SVG chart (stdlib only).

    report.py RESULTS.jsonl OUT.md OUT.svg

run.sh records raw samples through lib/stats.py (see there for the format); the medians, spreads,
ratios and rates are taken here. A missing value (a section that failed) shows as "n/a" and its
target as not measured.
"""
import sys
from html import escape

import stats

res = stats.load(sys.argv[1])
out_md, out_svg = sys.argv[2], sys.argv[3]


def get(k, d=None):
    return res.get(k, d)


def med(k):
    return stats.median(get(k))


def spread(k):
    return stats.spread(get(k))


def tp(k):
    """a throughput summary (medianSeconds, tarMBps, tarBytes, blobBytes) of KEY's samples"""
    return stats.rate(get(k))


def s(x, nd=2, unit=""):
    return "n/a" if x is None else f"{x:.{nd}f}{unit}"


def mb(x):
    return "n/a" if x is None else f"{x / 1e6:.1f} MB"


ratio = stats.ratio


def rs(r):
    return "n/a" if r is None else f"{r:.2f}×"


def yn(v):
    return "n/a" if v is None else ("yes" if v else "no")


def verdict(ok):
    return "—" if ok is None else ("✅" if ok else "❌")


quick = get("meta.quick") == "1"
n_pub = len(get("publish.a.zstd.cold") or []) or "?"
n_pull = len(get("pull.a.zstd.inproc") or []) or "?"
md = []
md.append("# ZstdContainers benchmark — latest run\n")
md.append(
    f"**Machine:** {get('meta.nproc')} × {get('meta.cpu')}, {get('meta.ram')} RAM, Linux {get('meta.kernel')} · "
    f"**date** {get('meta.date')} · **.NET SDK** {get('meta.sdk')} · **package** ZstdContainers {get('meta.version')} "
    f"at commit {get('meta.commit')} · containerd {get('meta.containerd')} · zstd CLI {get('meta.zstd')} · "
    f"load average (1/5/15 min) at start {get('meta.load_start')}, at end {get('meta.load_end')}"
    + (" · **--quick run** (single repetitions: indicative only)" if quick else "") + "\n")
md.append("Produced by `eng/bench/run.sh`; methods in `eng/bench/README.md`; every sample in `latest.jsonl`. "
          "1-minute load average when each section started (other work on this machine shows up here and in "
          "the min–max spreads): " + ", ".join(f"{k[5:]} {v.split()[0]}" for k, v in res.items() if k.startswith("load.")) + ".\n")

# ---------------------------------------------------------------- targets
pa_g, pa_z = med("pull.a.gzip.inproc"), med("pull.a.zstd.inproc")
pb_g, pb_z = med("pull.b.gzip.inproc"), med("pull.b.zstd.inproc")
wb_g, wb_z = med("publish.b.gzip.warm"), med("publish.b.zstd.warm")
tp3 = tp("tp.ours.L3")
tpn3 = tp("tp.native.L3")
ba_g, ba_z = get("bytes.a.gzip"), get("bytes.a.zstd.L3")
bb_g, bb_z = get("bytes.b.gzip"), get("bytes.b.zstd.L3")
rss_z = (get("rss.zstd") or {}).get("time_max_rss_bytes")
rss_tree = (get("rss.zstd") or {}).get("max_tree_rss_bytes")
big_mb = (get("size.c") or 0) / 1e6 if get("size.c") else None

targets = []
r = ratio(pa_z, pa_g)
rb = ratio(pb_z, pb_g)
targets.append(("pull+unpack of our image ≤ 0.5× the SDK image's (containerd, gzip decoded in-process)",
                f"(a) {rs(r)} ({s(pa_z)} s vs {s(pa_g)} s); (b) {rs(rb)} ({s(pb_z)} s vs {s(pb_g)} s)",
                None if r is None else (r <= 0.5 and (rb is None or rb <= 0.5))))
r = ratio(wb_z, wb_g)
targets.append(("warm publish of app (b) ≤ 0.75× the SDK's time", f"{rs(r)} ({s(wb_z)} s vs {s(wb_g)} s)",
                None if r is None else r <= 0.75))
r = ratio(tp3.get("tarMBps"), tpn3.get("tarMBps"))
targets.append((f"layer-build throughput ≥ 0.9× native `tar | zstd -T{get('meta.nproc')} -3`",
                f"{rs(r)} ({s(tp3.get('tarMBps'), 0)} vs {s(tpn3.get('tarMBps'), 0)} MB/s)", None if r is None else r >= 0.9))
r, rb = ratio(ba_z, ba_g), ratio(bb_z, bb_g)
targets.append(("bytes at the default level (3) ≤ 0.93× the SDK image's",
                f"(a) {rs(r)} ({mb(ba_z)} vs {mb(ba_g)}); (b) {rs(rb)} ({mb(bb_z)} vs {mb(bb_g)})",
                None if r is None else (r <= 0.93 and (rb is None or rb <= 0.93))))
targets.append((f"peak RSS ≤ 300 MB for the {s(big_mb, 0)} MB folder (dotnet publish process, `/usr/bin/time -v`)",
                f"{mb(rss_z)} (whole process tree, sampled: {mb(rss_tree)})", None if rss_z is None else rss_z <= 300e6))
md.append("## Targets (issue 6)\n")
md.append("| target | measured | met |\n|---|---|---|")
for t, m, ok in targets:
    md.append(f"| {t} | {m} | {verdict(ok)} |")
md.append("")

# names of the apps, used by every table below
names = {"a": f"(a) samples/HelloZstd, {mb(get('size.a'))} output, aspnet base",
         "b": f"(b) self-contained + deps, {mb(get('size.b'))} output, runtime-deps base"}

# ---------------------------------------------------------------- issue 12: CI runners, warm machine, links, levels, JIT
def cell(k, nd=2):
    return f"{s(med(k), nd)}{spread(k)}"


rate_label = (get("shaped.rate") or "400mbit").replace("mbit", " Mbit/s").replace("gbit", " Gbit/s")
t12 = []
cr = {x: ratio(med(f"publish.coldrunner.{x}.zstd"), med(f"publish.coldrunner.{x}.gzip")) for x in "ab"}
t12.append(("cold CI runner (empty layer cache, previous image in the registry, one-line change): publish ≤ 1.10× the SDK's",
            "; ".join(f"({x}) {rs(cr[x])} ({s(med(f'publish.coldrunner.{x}.zstd'))} s vs {s(med(f'publish.coldrunner.{x}.gzip'))} s)" for x in "ab"),
            None if cr["a"] is None and cr["b"] is None else all(r <= 1.10 for r in cr.values() if r is not None)))
r = ratio(wb_z, wb_g)
t12.append(("warm machine, app (b), output unchanged: publish ≤ 0.45× the SDK's", f"{rs(r)} ({s(wb_z)} s vs {s(wb_g)} s)",
            None if r is None else r <= 0.45))
tw = med("target.b.zstd.warm")
t12.append(("… and its container step (`_PublishSingleContainer`) ≤ 0.3 s", f"{s(tw)} s (SDK {s(med('target.b.gzip.warm'))} s)",
            None if tw is None else tw <= 0.3))
sh = {x: ratio(med(f"pull.{x}.zstd.inproc.shaped"), med(f"pull.{x}.gzip.inproc.shaped")) for x in "ab"}
t12.append((f"pull + unpack of the default image at {rate_label} ≤ 0.70× the SDK image's (gzip decoded in-process)",
            "; ".join(f"({x}) {rs(sh[x])} ({s(med(f'pull.{x}.zstd.inproc.shaped'))} s vs {s(med(f'pull.{x}.gzip.inproc.shaped'))} s; "
                      f"unshaped {rs(ratio(med(f'pull.{x}.zstd.inproc'), med(f'pull.{x}.gzip.inproc')))})" for x in "ab"),
            None if sh["a"] is None else (sh["a"] <= 0.70 and (sh["b"] is None or sh["b"] <= 0.70))))
dl = get("meta.default_base_level")
# The case is an empty registry (levels-empty: the SDK downloads and uploads the base layers);
# the same-registry figure (levels: the SDK mounts them) is shown beside it, not judged.
fe = ratio(med(f"publish.levels.empty.a.L{dl}"), med("publish.levels.empty.a.gzip"))
fl = ratio(med(f"publish.levels.a.L{dl}"), med("publish.levels.a.gzip"))
t12.append((f"first-ever publish of (a) to an empty registry at the default base level ({dl}) ≤ 3× the SDK's",
            f"{rs(fe)} ({s(med(f'publish.levels.empty.a.L{dl}'))} s vs {s(med('publish.levels.empty.a.gzip'))} s); "
            f"beside it, target registry already holding the base (SDK mounts): {rs(fl)} ({s(med(f'publish.levels.a.L{dl}'))} s vs {s(med('publish.levels.a.gzip'))} s)",
            None if fe is None else fe <= 3))
jw, jr = med("target.jit.jit.warm"), med("target.jit.r2r.warm")
t12.append(("no cold JIT: container step of a warm publish of (a), ReadyToRun package vs IL only", f"{s(jr, 3)} s vs {s(jw, 3)} s ({rs(ratio(jr, jw))})", None))
md.append("## Targets (issue 12)\n")
md.append("| target | measured | met |\n|---|---|---|")
for t, m, ok in t12:
    md.append(f"| {t} | {m} | {verdict(ok)} |")
md.append("")

if get("publish.coldrunner.a.zstd") is not None or get("publish.coldrunner.b.zstd") is not None:
    md.append(f"### Cold CI runner (seconds, median of {len(get('publish.coldrunner.a.zstd') or get('publish.coldrunner.b.zstd') or [])}, min–max)\n")
    md.append("A runner with no layer cache (new `ContainerLayerCacheDirectory`, `XDG_CACHE_HOME` and `TMPDIR`); the previous image of "
              "the project in the registry under the tag being pushed; one line of code changed since; build up to date. "
              "Ours and the SDK's alternate. \"What ours did\" is from the -v:n log of each run.\n")
    md.append("| app | SDK (gzip) | ZstdContainers (zstd) | ours / SDK | container step, SDK / ours | what ours did |")
    md.append("|---|---|---|---|---|---|")
    for x in "ab":
        if get(f"publish.coldrunner.{x}.zstd") is None:
            continue
        acts = sorted({v for k, v in res.items() if k.startswith(f"verify.coldrunner.{x}.")})
        md.append(f"| {names[x].split(',')[0]} | {cell(f'publish.coldrunner.{x}.gzip')} | {cell(f'publish.coldrunner.{x}.zstd')} | "
                  f"{rs(ratio(med(f'publish.coldrunner.{x}.zstd'), med(f'publish.coldrunner.{x}.gzip')))} | "
                  f"{s(med(f'target.coldrunner.{x}.gzip'))} / {s(med(f'target.coldrunner.{x}.zstd'))} | {'; '.join(acts) or 'n/a'} |")
    md.append("")

lv = sorted({int(k.split(".L")[1].split(".")[0]) for k in res if k.startswith("publish.levels.a.L")})
if lv:
    md.append(f"### Base layer level (`ContainerBaseLayerCompressionLevel`), app (a) on the stand-in aspnet base\n")
    md.append("App layer at its default level. First publish: empty layer cache and a new repository of the registry that already "
              "holds the base image (nothing for the registry cache to find; the SDK mounts the base layers from the base image's "
              "repository, ours recompresses and uploads them; the empty-registry case of issue 12 is the table below), median "
              f"and min–max (level 19: one run). Pull + unpack: containerd, emptied and page cache dropped before each pull, "
              f"median of {len(get(f'levels.pull.a.L{lv[0]}') or [])}, unshaped and with the registry's port shaped to {rate_label}.\n")
    md.append(f"| base level | image bytes | vs SDK | first publish, target registry holds the base (s) | vs SDK | pull + unpack (s) | vs SDK | at {rate_label} (s) | vs SDK | base layers |")
    md.append("|---|---|---|---|---|---|---|---|---|---|")
    gb, gp, gpu, gps = get("levels.a.gzip.bytes"), med("publish.levels.a.gzip"), med("levels.pull.a.gzip"), med("levels.pull.a.gzip.shaped")
    for l in lv:
        zb, zp, zpu, zps = get(f"levels.a.L{l}.bytes"), med(f"publish.levels.a.L{l}"), med(f"levels.pull.a.L{l}"), med(f"levels.pull.a.L{l}.shaped")
        acts = sorted({v for k, v in res.items() if k.startswith(f"verify.levels.a.L{l}.")})
        md.append(f"| {l}{' (default)' if str(l) == str(dl) else ''} | {mb(zb)} | {rs(ratio(zb, gb))} | {cell(f'publish.levels.a.L{l}')} | {rs(ratio(zp, gp))} | "
                  f"{cell(f'levels.pull.a.L{l}')} | {rs(ratio(zpu, gpu))} | {cell(f'levels.pull.a.L{l}.shaped')} | {rs(ratio(zps, gps))} | {'; '.join(acts) or 'n/a'} |")
    md.append(f"| SDK (gzip) | {mb(gb)} | | {cell('publish.levels.a.gzip')} | | {cell('levels.pull.a.gzip')} | | {cell('levels.pull.a.gzip.shaped')} | | |")
    md.append("")

le = sorted({int(k.split(".L")[1]) for k in res if k.startswith("publish.levels.empty.a.L")})
if le:
    md.append(f"### First publish of app (a) to an empty registry (issue 12: ≤ 3× the SDK at the default base level), median of {len(get('publish.levels.empty.a.gzip') or [])}, min–max\n")
    md.append("Empty registry: a Distribution registry of its own per publish, started empty on another loopback port; the base "
              "image stays in the run's registry, as when it comes from Microsoft's and the image goes to the team's. The SDK "
              "downloads the base layers into its content store and uploads them; ours downloads, recompresses and uploads them. "
              "Both cold: fresh `XDG_CACHE_HOME`, `TMPDIR` (the SDK's content store) and layer cache; ours and the SDK's alternate. "
              "Same registry: the base layer levels table's first publish (new repository in the registry that holds the base: the "
              "SDK mounts the base layers, ours still recompresses and uploads them). Container step: `_PublishSingleContainer`.\n")
    md.append("| base level | empty registry: ours (s) | SDK (s) | ours / SDK | container step, SDK / ours (s) | same registry (SDK mounts): ours (s) | SDK (s) | ours / SDK | what happened |")
    md.append("|---|---|---|---|---|---|---|---|---|")
    for l in le:
        acts = sorted({v for k, v in res.items() if k.startswith(f"verify.levels.empty.a.L{l}.")})
        md.append(f"| {l}{' (default)' if str(l) == str(dl) else ''} | {cell(f'publish.levels.empty.a.L{l}')} | {cell('publish.levels.empty.a.gzip')} | "
                  f"{rs(ratio(med(f'publish.levels.empty.a.L{l}'), med('publish.levels.empty.a.gzip')))} | "
                  f"{s(med('target.levels.empty.a.gzip'))} / {s(med(f'target.levels.empty.a.L{l}'))} | "
                  f"{cell(f'publish.levels.a.L{l}')} | {cell('publish.levels.a.gzip')} | {rs(ratio(med(f'publish.levels.a.L{l}'), med('publish.levels.a.gzip')))} | "
                  f"ours: {'; '.join(acts) or 'n/a'} |")
    sdk = sorted({v for k, v in res.items() if k.startswith("verify.levels.empty.a.gzip.")})
    md.append(f"\nSDK, from its -v:n log and its content store: {'; '.join(sdk) or 'n/a'}.\n")

if get("publish.jit.jit.warm") is not None:
    def r2r(mode):
        v = get(f"jit.{mode}.readytorun") or {}
        return ", ".join(f"{k.rsplit('/', 1)[-1]} {'R2R' if ok else 'IL'}" for k, ok in v.items()) or "n/a"
    md.append(f"### Task JIT: the package packed with and without ReadyToRun (`-p:ZstdContainersReadyToRun`), app (a), median of {len(get('publish.jit.jit.warm') or [])}\n")
    md.append("Warm: cache and repository filled, nothing to compress (the container step is start-up, JIT and requests). "
              "Cold: empty cache, new repository (the base layers go through the encoder). Each publish is a fresh MSBuild process.\n")
    md.append("| package | assemblies | warm publish (s) | warm container step (s) | cold publish (s) | cold container step (s) |")
    md.append("|---|---|---|---|---|---|")
    for mode, label in (("jit", "IL only"), ("r2r", "ReadyToRun")):
        md.append(f"| {label} | {r2r(mode)} | {cell(f'publish.jit.{mode}.warm')} | {cell(f'target.jit.{mode}.warm', 3)} | "
                  f"{cell(f'publish.jit.{mode}.cold')} | {cell(f'target.jit.{mode}.cold', 3)} |")
    if get("jit.r2r.readytorun") is not None and not any((get("jit.r2r.readytorun") or {}).values()):
        md.append("\n**The ReadyToRun pack holds no ReadyToRun code** (`ZstdContainersReadyToRun` did nothing in this version): "
                  "both rows are the same package, and their difference is noise.")
    md.append("")

# ---------------------------------------------------------------- redeploy (issue 13)
if get("redeploy.b.zstd.publish") is not None:
    uz, ug = med("redeploy.b.zstd.uploaded"), med("redeploy.b.gzip.uploaded")
    fz, fg = med("redeploy.b.zstd.fetched"), med("redeploy.b.gzip.fetched")
    tz, tg = med("redeploy.b.zstd.pull"), med("redeploy.b.gzip.pull")
    pz, pg = med("redeploy.b.zstd.publish"), med("redeploy.b.gzip.publish")
    n_rd = len(get("redeploy.b.zstd.publish") or [])
    n_rp = len(get("redeploy.b.zstd.pull") or [])
    md.append("## Redeploy of app (b) after a one-line code change (issue 13)\n")
    md.append(f"v1 published and running on a containerd node; one line of Program.cs changed; v2 published to the same "
              f"repository and pulled by that node. Ours: {get('redeploy.b.zstd.layers')} layers, the app split by origin "
              f"({get('redeploy.b.zstd.summary') or 'n/a'}); the SDK's: one app layer. Uploaded: v2's blobs the repository "
              f"did not hold (both clients skip the others). Fetched: blobs new in the node's content store after the v2 "
              f"pull. Median of {n_rd} redeploys and {n_rp} node updates (v1 present, page cache dropped, gzip decoded in-process).\n")
    def kb(x):
        return "n/a" if x is None else (f"{x / 1e3:.1f} kB" if x < 1e6 else mb(x))
    md.append("| what | SDK (gzip) | ZstdContainers (zstd, split) | ours / SDK | target | met |")
    md.append("|---|---|---|---|---|---|")
    for label, g, z, target, ok in (
            ("bytes uploaded by the redeploy", kb(ug), kb(uz), "≤ 2%", lambda r: r <= 0.02),
            ("bytes the node fetches to run v2", kb(fg), kb(fz), "≤ 2%", lambda r: r <= 0.02),
            ("node pull + unpack of v2 (s)", f"{s(tg)}{spread('redeploy.b.gzip.pull')}", f"{s(tz)}{spread('redeploy.b.zstd.pull')}", "≤ 0.25×", lambda r: r <= 0.25),
            ("redeploy publish (s)", f"{s(pg)}{spread('redeploy.b.gzip.publish')}", f"{s(pz)}{spread('redeploy.b.zstd.publish')}", "reported", None)):
        gv = {"bytes uploaded by the redeploy": ug, "bytes the node fetches to run v2": fg, "node pull + unpack of v2 (s)": tg, "redeploy publish (s)": pg}[label]
        zv = {"bytes uploaded by the redeploy": uz, "bytes the node fetches to run v2": fz, "node pull + unpack of v2 (s)": tz, "redeploy publish (s)": pz}[label]
        r = ratio(zv, gv)
        pct = "n/a" if r is None else (f"{100 * r:.2f}%" if "bytes" in label else rs(r))
        md.append(f"| {label} | {g} | {z} | {pct} | {target} | {verdict(None if ok is None or r is None else ok(r))} |")
    md.append(f"\nWhole image: SDK {mb(get('redeploy.b.gzip.image'))}, ours {mb(get('redeploy.b.zstd.image'))}.\n")

# ---------------------------------------------------------------- publish
md.append(f"## Publish step — `dotnet publish -t:PublishContainer` after a warm-up build (seconds, median of {n_pub}, min–max)\n")
md.append("Cold: our layer cache empty and the target repository new. Warm: cache full and the same repository "
          "pushed before. Wall time of the whole command; \"container step\" is the `_PublishSingleContainer` "
          "target from MSBuild's performance summary.\n")
md.append("| app | state | SDK (gzip) | ZstdContainers (zstd) | zstd / gzip | container step, SDK / ours | our base layers |")
md.append("|---|---|---|---|---|---|---|")
for x in "ab":
    for st in ("cold", "warm"):
        g, z = med(f"publish.{x}.gzip.{st}"), med(f"publish.{x}.zstd.{st}")
        tg, tz = med(f"target.{x}.gzip.{st}"), med(f"target.{x}.zstd.{st}")
        acts = sorted({v for k, v in res.items() if k.startswith(f"verify.{x}.zstd.{st}.")})
        md.append(f"| {names[x]} | {st} | {s(g)}{spread(f'publish.{x}.gzip.{st}')} | {s(z)}{spread(f'publish.{x}.zstd.{st}')} | "
                  f"{rs(ratio(z, g))} | {s(tg)} / {s(tz)} | {'; '.join(acts) or 'n/a'} |")
md.append("")

# ---------------------------------------------------------------- bytes
levels = sorted({int(k.split(".L")[1]) for k in res if k.startswith("bytes.a.zstd.L") or k.startswith("bytes.b.zstd.L")})
md.append("## Image bytes — config + layers from the manifest (`skopeo inspect --raw`)\n")
hdr = "| app | SDK (gzip) | " + " | ".join(f"zstd level {l} | ratio" for l in levels) + " |"
md.append(hdr)
md.append("|---|---|" + "---|---|" * len(levels))
notes = []
for x in "ab":
    g = get(f"bytes.{x}.gzip")
    cells = []
    for l in levels:
        z, applied, proj = get(f"bytes.{x}.zstd.L{l}"), get(f"applied.{x}.L{l}"), get(f"projected.{x}.L{l}")
        if applied is False and proj is not None:
            cells.append(f"{mb(z)} ‡ / {mb(proj)} § | {rs(ratio(z, g))} / {rs(ratio(proj, g))}")
            notes.append(l)
        else:
            cells.append(f"{mb(z)} | {rs(ratio(z, g))}")
    md.append(f"| {names[x].split(',')[0]} | {mb(g)} | " + " | ".join(cells) + " |")
if notes:
    md.append("\n‡ what the published image weighs: its config does not name the requested level, i.e. "
              "`ContainerLayerCompressionLevel` did not reach the image task, which wrote level 3. "
              "§ what the same layers weigh at that level through our library (BaseLayerTranscoder on the base "
              "blobs + DirectoryLayerWriter/ZstdBlobWriter on the publish folder, via eng/bench/LayerBench) plus the pushed config.")
md.append("")

# ---------------------------------------------------------------- pulls
md.append(f"## containerd cold pull + unpack (seconds, median of {n_pull}, min–max)\n")
md.append("`ctr images pull` from the local registry; before every pull: image removed (`images rm --sync`), "
          "content pruned, checked empty, `sync; echo 3 > /proc/sys/vm/drop_caches`"
          + ("" if get("meta.drop_caches") is not False else " (**not permitted here: page cache stayed warm**)")
          + f". containerd's root and state: {get('meta.containerd_disk') or 'the run folder'} (eng/lib/node-disk.sh says why)"
          + f". unpigz exec'd while unpacking gzip: pigz daemon {yn(get('pigz_seen.cd-pigz'))}, "
          f"in-process daemon {yn(get('pigz_seen.cd-inproc'))}.\n")
md.append("| image | SDK image (gzip), decoded in-process | SDK image (gzip), unpigz | our image (zstd) | ours / SDK in-process | ours / SDK unpigz |")
md.append("|---|---|---|---|---|---|")
for x in "ab":
    gi, gp, zi = (med(f"pull.{x}.{k}") for k in ("gzip.inproc", "gzip.pigz", "zstd.inproc"))
    md.append(f"| {names[x].split(',')[0]} | {s(gi)}{spread(f'pull.{x}.gzip.inproc')} | {s(gp)}{spread(f'pull.{x}.gzip.pigz')} | "
              f"{s(zi)}{spread(f'pull.{x}.zstd.inproc')} | {rs(ratio(zi, gi))} | {rs(ratio(zi, gp))} |")
md.append("")

# ---------------------------------------------------------------- throughput
md.append(f"## Layer-build throughput — app (b)'s publish folder, {get('meta.nproc')} threads (MB/s of tar bytes, median)\n")
md.append("Ours: `DirectoryLayerWriter` → `ZstdBlobWriter` (tar, diff_id and digest hashing, zstd with "
          "`nbWorkers` = nproc, blob file) in eng/bench/LayerBench, after one warm-up iteration. "
          f"Native: `tar -C DIR -cf - . | zstd -T{get('meta.nproc')} -L -o FILE` under hyperfine. Page cache warm for both.\n")
md.append("| level | ours | native CLI | ours / native | ours: tar → zstd bytes | native: tar → zstd bytes |")
md.append("|---|---|---|---|---|---|")
for l in (3, 9):
    o, n = tp(f"tp.ours.L{l}"), tp(f"tp.native.L{l}")
    md.append(f"| {l} | {s(o.get('tarMBps'), 0)} | {s(n.get('tarMBps'), 0)} | {rs(ratio(o.get('tarMBps'), n.get('tarMBps')))} | "
              f"{mb(o.get('tarBytes'))} → {mb(o.get('blobBytes'))} | {mb(n.get('tarBytes'))} → {mb(n.get('blobBytes'))} |")
md.append("\nWhere our time goes (level 3, same folder):\n")
md.append("| stage | MB/s of tar | seconds |\n|---|---|---|")
for k, label in (("tp.ours.tar", "DirectoryLayerWriter only (file reads + tar framing) into a counter"),
                 ("tp.ours.tarhash", "… + sha256 of the tar (diff_id)"),
                 ("tp.ours.zstd-from-tar", "ZstdBlobWriter fed from a tar file (encoder + both hashes + blob write)"),
                 ("tp.native.zstd-from-tar", f"native `zstd -T{get('meta.nproc')} -3` on the same tar file"),
                 ("tp.ours.L3", "ours, whole pipeline"), ("tp.native.L3", "native, `tar | zstd`"),
                 ("tp.ours.L3.first", "ours, whole pipeline, first iteration in a fresh process (JIT, as in every publish)")):
    v = tp(k)
    md.append(f"| {label} | {s(v.get('tarMBps'), 0)} | {s(v.get('medianSeconds'), 3)} |")
md.append("")

# ---------------------------------------------------------------- memory
md.append(f"## Peak memory — publish of a {s(big_mb, 0)} MB folder (app (c), framework-dependent, aspnet base)\n")
md.append("`dotnet publish -t:PublishContainer -nodeReuse:false -maxcpucount:1` (the build and the image task run in "
          "the one dotnet process). \"time -v\": `Maximum resident set size` of `/usr/bin/time -v` (largest single "
          "process). \"tree\": largest sum of VmRSS over the process tree, sampled from /proc every 50 ms. Ours runs "
          "with the base layers already cached.\n")
md.append("| publish | max RSS (time -v) | max tree RSS (sampled) | largest process | wall |")
md.append("|---|---|---|---|---|")
for comp, label in (("zstd", "ZstdContainers (zstd)"), ("gzip", "SDK (gzip)")):
    v = get(f"rss.{comp}") or {}
    md.append(f"| {label} | {mb(v.get('time_max_rss_bytes'))} | {mb(v.get('max_tree_rss_bytes'))} | "
              f"`{escape((v.get('max_single_cmd') or 'n/a')[:60])}` | {s(v.get('wall_seconds'))} s |")
v = get("rss.baseline") or {}
md.append(f"| baseline: the same `dotnet publish` without `-t:PublishContainer` | {mb(v.get('time_max_rss_bytes'))} | "
          f"{mb(v.get('max_tree_rss_bytes'))} | | |")
h = get("rss.harness") or {}
md.append(f"| our writer alone (LayerBench, same folder, level 3) | {mb(h.get('peakWorkingSetBytes'))} (peak working set) | | | {s(h.get('medianSeconds'))} s |")
md.append("")

errs = [(k[6:], v) for k, v in res.items() if k.startswith("error.")]
if errs:
    md.append("## Sections that failed\n")
    for k, v in errs:
        md.append(f"- {k}: {v}")
    md.append("")
open(out_md, "w").write("\n".join(md) + "\n")

# ---------------------------------------------------------------- SVG
W = 980
panels = []


def panel(title, groups, fmt="{:.2f}"):
    """groups: [(label, [(series_name, value), ...], target_or_None), ...]; a target is drawn as a
    dashed red line across the group's bars."""
    panels.append((title, groups, fmt))


def times(v, k):
    return None if v is None else v * k


COL = {"SDK (gzip)": "#8c8c8c", "ZstdContainers (zstd)": "#2a7ab9", "native CLI": "#e08a2c",
       "SDK gzip, in-process": "#8c8c8c", "SDK gzip, unpigz": "#b5b5b5", "ours zstd": "#2a7ab9",
       "zstd L3": "#2a7ab9", "zstd L9": "#5b9bd0", "zstd L19": "#8fbfe6", "ours": "#2a7ab9",
       "our writer alone": "#8fbfe6", "baseline (no container step)": "#d0d0d0"}
pub_groups = []
for x in "ab":
    for st in ("cold", "warm"):
        g = med(f"publish.{x}.gzip.{st}")
        pub_groups.append((f"({x}) {st}", [("SDK (gzip)", g), ("ZstdContainers (zstd)", med(f"publish.{x}.zstd.{st}"))],
                           times(g, 0.75) if (x, st) == ("b", "warm") else None))
panel("Publish step, seconds (lower is better; dashed: target 0.75× SDK)", pub_groups)
bytes_groups = []
for x in "ab":
    g = get(f"bytes.{x}.gzip")
    series = [("SDK (gzip)", None if g is None else g / 1e6)]
    for l in levels:
        v = get(f"projected.{x}.L{l}") if get(f"applied.{x}.L{l}") is False else get(f"bytes.{x}.zstd.L{l}")
        series.append((f"zstd L{l}", None if v is None else v / 1e6))
    bytes_groups.append((f"({x})", series, None if g is None else g / 1e6 * 0.93))
panel("Image bytes, MB (dashed: target 0.93× SDK at level 3)", bytes_groups, "{:.1f}")
panel("containerd cold pull + unpack, seconds (dashed: target 0.5× SDK, in-process gzip)",
      [(f"({x})", [("SDK gzip, in-process", med(f"pull.{x}.gzip.inproc")), ("SDK gzip, unpigz", med(f"pull.{x}.gzip.pigz")),
                   ("ours zstd", med(f"pull.{x}.zstd.inproc"))], times(med(f"pull.{x}.gzip.inproc"), 0.5)) for x in "ab"])
panel("Layer-build throughput, MB/s of tar (higher is better; dashed: target 0.9× native)",
      [(f"level {l}", [("ours", tp(f"tp.ours.L{l}").get("tarMBps")), ("native CLI", tp(f"tp.native.L{l}").get("tarMBps"))],
        times(tp(f"tp.native.L{l}").get("tarMBps"), 0.9) if l == 3 else None) for l in (3, 9)], "{:.0f}")


def rss_mb(k, f="time_max_rss_bytes"):
    v = (get(k) or {}).get(f)
    return None if v is None else v / 1e6


panel(f"Peak RSS, MB, publish of the {s(big_mb, 0)} MB folder (dashed: target 300 MB)",
      [("publish", [("baseline (no container step)", rss_mb("rss.baseline")), ("SDK (gzip)", rss_mb("rss.gzip")),
                    ("ZstdContainers (zstd)", rss_mb("rss.zstd"))], 300),
       ("writer", [("our writer alone", rss_mb("rss.harness", "peakWorkingSetBytes"))], 300)], "{:.0f}")

bar_h, gap, left, right = 14, 2, 110, 260
y = 50
body = []
for title, groups, fmt in panels:
    body.append(f'<text x="10" y="{y}" font-size="14" font-weight="bold">{escape(title)}</text>')
    y += 10
    vals = [v for _, ser, t in groups for _, v in ser if v is not None] + [t for _, _, t in groups if t is not None]
    vmax = max(vals) if vals else 1
    scale = (W - left - right) / (vmax or 1)
    for label, ser, target in groups:
        gy = y
        for name, v in ser:
            y += gap
            w = 0 if v is None else max(1, v * scale)
            body.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{COL.get(name, "#666")}"/>')
            body.append(f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 3}" font-size="11">'
                        f'{"n/a" if v is None else fmt.format(v)} · {escape(name)}</text>')
            y += bar_h
        if target is not None:
            tx = left + target * scale
            body.append(f'<line x1="{tx:.1f}" y1="{gy - 1}" x2="{tx:.1f}" y2="{y + 2}" stroke="#c0392b" stroke-width="1.5" stroke-dasharray="4,3"/>')
        body.append(f'<text x="{left - 8}" y="{(gy + y) / 2 + 6:.1f}" font-size="12" text-anchor="end">{escape(label)}</text>')
        y += 6
    y += 24
head = (f'ZstdContainers vs the SDK — {get("meta.nproc")} × {get("meta.cpu")}, {get("meta.ram")}, SDK {get("meta.sdk")}, '
        f'commit {get("meta.commit")}, {get("meta.date")}' + (" (quick run)" if quick else ""))
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{y}" viewBox="0 0 {W} {y}" font-family="sans-serif">',
       f'<rect width="{W}" height="{y}" fill="white"/>',
       f'<text x="10" y="22" font-size="13" fill="#333">{escape(head)}</text>'] + body + ["</svg>"]
open(out_svg, "w").write("\n".join(svg) + "\n")
