#!/usr/bin/env python3
"""bench_replication.py - the replication benchmarks of issue 5, driven through the real binaries.

  bench_replication.py BUILD_DIR [--full] [--only 1,2,3,4,5] [--repeat N]

1. Initial sync of N statistics cells (observations) from a region to the lead, durable commits,
   end to end (connect, handshake, transfer, verify, commit), beside the reference
   ../shared/limits/bench_sync run in the same session (N = 1,000,000 with --full, else 100,000).
2. Nightly incremental sync: 1,000 new cells on top of N, time and bytes on the wire; with --full
   and when rsync and sshd are installed, beside `rsync -e ssh` of the same data as CSV.
3. R regions (300 with --full, else 30) syncing 10,000 cells each with one lead at once.
4. C idle TCP connections (10,000 with --full, else 1,000) held against the lead while one region
   syncs; the daemon's resident memory per idle connection.
5. The daemon's peak resident memory during benchmark 1.

With BENCH_PERF_LEAD=FILE in the environment, benchmark 3 also records a perf profile of the
lead (perf record -g) into FILE while the regions sync.
For analysing benchmark 3: BENCH_MANY_CELLS=N gives each region N cells instead of 10,000
(N = 8 leaves one release per region: what the sessions cost without the data), and
BENCH_MANY_JSON=FILE keeps bench_many's own report, whose start_monotonic_s lines the run up with
a profile taken with `perf record -k CLOCK_MONOTONIC`.

Benchmarks 1 and 3 run N times (--repeat; 3 with --full, else 1), each on fresh nodes, and print
the median with every run beside it: one run of either is a fraction of a second, within the
noise of a shared machine, and benchmark 3's target is a ratio of the two.

Every figure is printed with its ratio against the target or the limit (../shared/limits.md).
Nothing here asserts: it measures and prints. Everything talks to 127.0.0.1 only and every
process it starts is stopped by pid before it returns.
"""
import argparse
import concurrent.futures
import json
import statistics
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.abspath(os.path.join(HERE, "..", "..", "shared"))
LIMIT_X25519 = 22000


class Bench:
    def __init__(self, build, work):
        self.js = os.path.join(build, "client", "jetsync")
        self.jsd = os.path.join(build, "server", "jetsyncd")
        self.bench_many = os.path.join(build, "bench", "bench_many")
        self.work = work
        self.netkey = os.path.join(work, "network.key")
        self.procs = []
        self.env = dict(os.environ, JETSYNC_LOG="warn")

    def run(self, *args, check=True):
        p = subprocess.run([self.js, *args], capture_output=True, text=True, env=self.env)
        if check and p.returncode != 0:
            raise RuntimeError(f"jetsync {' '.join(args)}: {p.stderr.strip()}")
        return p

    def init(self, name, region, lead=False, conf=None):
        home = os.path.join(self.work, name)
        args = ["init", "--home", home, "--name", name, "--region", region,
                "--network-key", self.netkey]
        if lead:
            args.append("--lead")
        self.run(*args)
        if conf:
            path = os.path.join(home, "jetsync.conf")
            text = open(path).read()
            for (section, key), value in conf.items():
                text = text.replace(f"[{section}]\n", f"[{section}]\n{key} = {value}\n", 1)
                # the later duplicate (the default written by init) must go
                lines, seen = [], False
                for line in text.split("\n"):
                    if line.startswith(f"{key} = ") or line.startswith(f"{key}="):
                        if seen:
                            continue
                        seen = True
                    lines.append(line)
                text = "\n".join(lines)
            open(path, "w").write(text)
        return home

    def node_id(self, home):
        return self.run("id", "--home", home).stdout.strip()

    def start_daemon(self, home):
        out = open(os.path.join(home, "daemon.out"), "w+")
        err = open(os.path.join(home, "daemon.log"), "w")
        p = subprocess.Popen([self.jsd, "--home", home, "--listen", "127.0.0.1:0"], stdout=out,
                             stderr=err, env=self.env, preexec_fn=raise_nofile)
        self.procs.append(p)
        for _ in range(200):
            out.seek(0)
            line = out.readline()
            if line.startswith("listening "):
                return p, line.split()[1]
            time.sleep(0.05)
        raise RuntimeError("daemon did not start: " + open(err.name).read())

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    def pair(self, lead, region_name, region_home, addr):
        self.run("peer", "add", "--home", lead, "--name", region_name, "--key",
                 self.node_id(region_home), "--role", "region")
        self.run("peer", "add", "--home", region_home, "--name", "lead", "--key",
                 self.node_id(lead), "--role", "lead", "--addr", addr)

    def sync(self, home):
        t0 = time.perf_counter()
        p = self.run("sync", "--home", home)
        return time.perf_counter() - t0, p.stdout.strip()

    def status(self, home):
        return json.loads(self.run("status", "--home", home, "--json").stdout)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, 65536)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def write_cells(path, n, seed, periods=None):
    """n count observations: indicator x period x school_level x sex x area, in long format."""
    rnd = random.Random(seed)
    levels = ["ISCED1", "ISCED2", "ISCED3G", "ISCED3V"]
    periods = periods or [f"{y}/{(y + 1) % 100:02d}" for y in range(2015, 2025)]
    inds = ["ENROLLED", "RETAINED", "PROGRAMME_PARTICIPANTS", "COMPLETED", "FOLLOW_UP"]
    per_area = len(levels) * 2
    tables = [(i, p) for p in periods for i in inds]
    per_table = max(per_area, n // len(tables) // per_area * per_area)
    areas = max(1, per_table // per_area)
    written = 0
    with open(path, "w") as f:
        f.write("indicator;period;school_level;sex;area;value\n")
        for ind, per in tables:
            for a in range(areas):
                for lv in levels:
                    for sx in ("F", "M"):
                        if written >= n:
                            return written
                        f.write(f"{ind};{per};{lv};{sx};A{a:05d};{rnd.randint(20, 900)}\n")
                        written += 1
    return written


def reference(n):
    """The reference stack benchmark, run beside ours in the same session."""
    out = "/tmp/jetsync-limits"
    subprocess.run(["make", "-s", "-C", os.path.join(SHARED, "limits"), f"OUT={out}"],
                   check=True, capture_output=True)
    d = tempfile.mkdtemp(prefix="jetsync-ref.")
    try:
        p = subprocess.run([os.path.join(out, "bench_sync"), d, str(n), "200", "1000", "sync"],
                           capture_output=True, text=True, check=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    for row in p.stdout.splitlines():
        parts = row.split()  # RESULT <metric> <value> <unit>
        if len(parts) == 4 and parts[0] == "RESULT" and parts[3] == "rec/s":
            return float(parts[2])
    raise RuntimeError("reference output not understood:\n" + p.stdout)


def line(name, value, unit, ratio_text):
    print(f"  {name:<58} {value:>12} {unit:<10} {ratio_text}")
    sys.stdout.flush()


def runs_text(values, fmt):
    """"median of 3: a b c" for repeated runs, "" for one."""
    if len(values) < 2:
        return ""
    return f"median of {len(values)}: " + " ".join(fmt.format(v) for v in values)


def bench_initial(b, n, ref_rate, repeat):
    """Benchmarks 1, 2 and 5. Benchmark 1 runs `repeat` times, each a fresh lead and region (an
    initial sync happens once per pair); its figure is the median. 2 and 5 use the last pair."""
    csv = os.path.join(b.work, "cells.csv")
    rows = write_cells(csv, n, 1)
    times = []
    for k in range(repeat):
        if k > 0:
            b.stop(p)
        lead = b.init(f"lead1-{k}", "SE-Y", lead=True)
        region = b.init(f"region1-{k}", "IT-25")
        t0 = time.perf_counter()
        b.run("stats", "import", "--home", region, csv)
        imp = time.perf_counter() - t0
        p, addr = b.start_daemon(lead)
        b.pair(lead, f"region1-{k}", region, addr)
        secs, out = b.sync(region)
        times.append(secs)
    peak = rss_kib(p.pid, "VmHWM")
    st = b.status(region)["peers"][0]
    secs = statistics.median(times)
    rate = rows / secs
    print(f"1. initial sync of {rows:,} cells (import at the region took {imp:.1f} s, untimed)")
    line("end to end (connect, handshake, transfer, verify, commit)", f"{secs:.3f}", "s",
         runs_text(times, "{:.3f}"))
    line("cells per second", f"{rate:,.0f}", "cells/s",
         f"target 400,000: x{rate / 400000:.2f}")
    if ref_rate:
        line("reference bench_sync (same session)", f"{ref_rate:,.0f}", "rec/s",
             f"ours/reference = {rate / ref_rate:.2f} (target >= 0.8)")
    line("records / bytes sent", f"{st['sent']['records']:,}", "records",
         f"{st['sent']['bytes'] / 1e6:.1f} MB")
    print("5. daemon memory")
    line("lead daemon peak resident memory during benchmark 1", f"{peak / 1024:.1f}", "MiB",
         f"target < 64 MiB: {'ok' if peak < 65536 else 'OVER'}")

    # 2. nightly incremental: 1,000 new cells.
    inc = os.path.join(b.work, "inc.csv")
    write_cells(inc, 1000, 2, periods=["2025/26"])
    b.run("stats", "import", "--home", region, inc)
    csv_bytes = os.path.getsize(inc)
    secs2, _ = b.sync(region)
    st2 = b.status(region)["peers"][0]
    wire = st2["sent"]["bytes"]
    print("2. nightly incremental sync: 1,000 new cells on top of the initial set")
    line("end to end", f"{secs2 * 1000:.1f}", "ms", f"target < 50 ms: x{secs2 * 1000 / 50:.2f}")
    line("bytes on the wire (records)", f"{wire:,}", "B",
         f"new data as CSV {csv_bytes:,} B: x{wire / csv_bytes:.2f} (target < 2)")
    secs3, _ = b.sync(region)
    line("a third sync right after (nothing new)", f"{secs3 * 1000:.1f}", "ms", "")
    rsync_compare(b, lead, secs2)
    b.stop(p)
    return secs, st['sent']['records']


def rsync_compare(b, lead, ours):
    if not (shutil.which("rsync") and shutil.which("sshd") and shutil.which("ssh")):
        line("rsync -e ssh of the same data as CSV", "n/a", "",
             "(install rsync and openssh-server to compare)")
        return
    d = tempfile.mkdtemp(prefix="jetsync-rsync.")
    try:
        key = os.path.join(d, "id")
        hostkey = os.path.join(d, "host")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostkey], check=True)
        auth = os.path.join(d, "authorized_keys")
        shutil.copy(key + ".pub", auth)
        os.chmod(auth, 0o600)
        port = free_port()
        cfg = os.path.join(d, "sshd_config")
        open(cfg, "w").write(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {hostkey}\n"
                             f"AuthorizedKeysFile {auth}\nPasswordAuthentication no\n"
                             f"StrictModes no\nPidFile {d}/sshd.pid\n")
        os.makedirs("/run/sshd", exist_ok=True)
        sshd = subprocess.Popen([shutil.which("sshd"), "-D", "-f", cfg, "-e"],
                                stderr=subprocess.DEVNULL)
        b.procs.append(sshd)
        time.sleep(0.5)
        full = b.run("stats", "show", "--home", lead, "--csv").stdout
        old = full.splitlines(True)
        old = "".join(line_ for line_ in old if "2025/26" not in line_)
        src, dst = os.path.join(d, "src.csv"), os.path.join(d, "dst.csv")
        open(src, "w").write(full)
        open(dst, "w").write(old)
        ssh = f"ssh -p {port} -i {key} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
        t0 = time.perf_counter()
        subprocess.run(["rsync", "-e", ssh, src, f"127.0.0.1:{dst}"], check=True)
        secs = time.perf_counter() - t0
        line("rsync -e ssh bringing the lead's CSV export up to date", f"{secs * 1000:.1f}",
             "ms", f"jetsync/rsync = {ours / secs:.2f}")
        b.stop(sshd)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_cpu(pid):
    """CPU seconds (user + system) used so far by process `pid`."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid):
    """CPU seconds per thread of process `pid` ({tid: seconds})."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def setup_regions(b, lead, addr, regions, csv, k):
    """Creates, pairs and fills the region homes (untimed), a few at a time."""
    lead_id = b.node_id(lead)

    def one(i):
        name = f"r{k}-{i:03d}"
        h = b.init(name, f"XX-{i:03d}")
        b.run("peer", "add", "--home", lead, "--name", name, "--key", b.node_id(h),
              "--role", "region")
        b.run("peer", "add", "--home", h, "--name", "lead", "--key", lead_id, "--role", "lead",
              "--addr", addr)
        b.run("stats", "import", "--home", h, csv)
        return h

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, range(regions)))


def bench_many(b, regions, cells, single_rate, single_rec_rate, repeat):
    """Benchmark 3, `repeat` times (each a fresh lead and fresh regions); the figures printed are
    those of the run of median wall time, with every run's time beside them."""
    runs = [many_once(b, regions, cells, k) for k in range(repeat)]
    runs.sort(key=lambda r: r[0]["wall_s"])
    res, rows, setup, lead_cpu, loop_cpu = runs[len(runs) // 2]
    walls = sorted(r[0]["wall_s"] for r in runs)
    total = res["wall_s"]
    rate = regions * rows / total
    print(f"3. {regions} regions x {rows:,} cells syncing with one lead at once "
          f"(setup {setup:.1f} s, untimed; one driver process, regions without fsync)")
    line("all complete", f"{min(r[0]['complete'] for r in runs)}/{res['sessions']}", "",
         "target: all" + (f" (in each of {repeat} runs)" if repeat > 1 else ""))
    for r in runs:
        for fail in r[0]["failures"][:5]:
            print(f"    failed: {os.path.basename(fail['home'])} -> {fail['peer']}: "
                  f"{fail['reason']}")
    line("total time / slowest session", f"{total:.2f}", "s",
         f"slowest {res['slowest_s']:.2f} s, median {res['median_s']:.2f} s"
         + (f"; runs {' '.join(f'{w:.2f}' for w in walls)} s" if repeat > 1 else ""))
    line("of a session's time: connect + handshake, median / slowest",
         f"{res['connect_median_s']:.2f}/{res['connect_slowest_s']:.2f}", "s", "")
    line("lead daemon CPU time", f"{lead_cpu:.2f}", "s",
         f"{lead_cpu / total * 100:.0f}% of the wall time: loop thread {loop_cpu:.2f} s, "
         f"others {lead_cpu - loop_cpu:.2f} s; regions' driver {res['driver_cpu_s']:.2f} s")
    line("records / bytes received by the lead", f"{res['sent_records']:,}", "records",
         f"{res['sent_bytes'] / 1e6:.1f} MB")
    line("total throughput", f"{rate:,.0f}", "cells/s",
         f"benchmark 1{'' if single_rec_rate else ' not run, its target'}: {single_rate:,.0f}; "
         f"ratio {rate / single_rate:.2f} (target >= 0.5)")
    # A region's 10,000 cells come as one release per (indicator, period), fifty small tables
    # that share bundle records (docs/statistics.md): records/s says what the lead did per
    # record (one signature is checked per run of a log in a batch, docs/protocol.md "Records").
    rec_rate = res["sent_records"] / total
    line("records per second", f"{rec_rate:,.0f}", "rec/s",
         f"benchmark 1: {single_rec_rate:,.0f} rec/s, {rows * regions / res['sent_records']:,.0f} "
         f"vs {single_rate / single_rec_rate:,.0f} cells per record" if single_rec_rate else "")


def many_once(b, regions, cells, k):
    """One run of benchmark 3: many regions at once. One driver process (bench/bench_many, the code of
    `jetsync sync` on one loop) runs every region's session, so the machine's two cores go to
    the lead and to the sessions rather than to hundreds of process start-ups. The regions stand
    for other machines with their own disks, so they commit without fsync; the lead keeps its
    durable commits."""
    conf = {("network", "max_connections"): 20000, ("network", "max_per_address"): 20000}
    lead = b.init(f"lead3-{k}", "SE-Y", lead=True, conf=conf)
    p, addr = b.start_daemon(lead)
    csv = os.path.join(b.work, "many.csv")
    rows = write_cells(csv, cells, 3)
    t0 = time.perf_counter()
    homes = setup_regions(b, lead, addr, regions, csv, k)
    os.sync()  # the setup's dirty pages must not be written back during the timed run
    setup = time.perf_counter() - t0
    listing = os.path.join(b.work, "many-homes.txt")
    with open(listing, "w") as f:
        f.write("".join(h + "\n" for h in homes))
    cpu0, threads0 = proc_cpu(p.pid), thread_cpu(p.pid)
    perf = None
    if os.environ.get("BENCH_PERF_LEAD"):  # a profile of the lead during the timed run
        perf = subprocess.Popen(["perf", "record", "-F", "10000", "-g", "-p", str(p.pid),
                                 "-o", os.environ["BENCH_PERF_LEAD"]],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    d = subprocess.run([b.bench_many, "--nosync", "--timeout", "300", "--homes-from", listing],
                       capture_output=True, text=True, env=b.env, preexec_fn=raise_nofile)
    lead_cpu, threads1 = proc_cpu(p.pid) - cpu0, thread_cpu(p.pid)
    if perf is not None:
        perf.send_signal(signal.SIGINT)
        perf.wait()
    loop_cpu = threads1.get(p.pid, 0) - threads0.get(p.pid, 0)
    try:
        res = json.loads(d.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise RuntimeError(f"bench_many (exit {d.returncode}): {d.stderr.strip()}")
    if os.environ.get("BENCH_MANY_JSON"):  # bench_many's report, kept (e.g. to line up a profile)
        with open(os.environ["BENCH_MANY_JSON"], "w") as f:
            json.dump(res, f)
    b.stop(p)
    shutil.rmtree(lead, ignore_errors=True)  # the next run makes its own
    for h in homes:
        shutil.rmtree(h, ignore_errors=True)
    return res, rows, setup, lead_cpu, loop_cpu


def bench_idle(b, conns, alone_cells):
    """Benchmark 4: idle connections held against the lead while one region syncs."""
    conf = {("network", "max_connections"): conns + 100,
            ("network", "max_per_address"): conns + 100,
            ("network", "handshake_timeout"): "120s", ("network", "idle_timeout"): "120s"}
    lead = b.init("lead4", "SE-Y", lead=True, conf=conf)
    region = b.init("region4", "IT-25")
    csv = os.path.join(b.work, "idle.csv")
    write_cells(csv, alone_cells, 4)
    b.run("stats", "import", "--home", region, csv)
    region2 = b.init("region4b", "NO-30")
    b.run("stats", "import", "--home", region2, csv)
    p, addr = b.start_daemon(lead)
    b.pair(lead, "region4", region, addr)
    b.pair(lead, "region4b", region2, addr)
    alone, _ = b.sync(region)
    time.sleep(0.3)
    base = rss_kib(p.pid)
    host, port = addr.rsplit(":", 1)
    raise_nofile()
    socks = []
    for i in range(conns):
        s = socket.socket()
        # spread the sources over 127.0.0.0/8 so no per-address table is the bottleneck
        s.bind((f"127.0.{(i >> 8) & 255}.{(i & 255) or 1}", 0))
        s.connect((host, int(port)))
        socks.append(s)
    time.sleep(1.0)
    held = rss_kib(p.pid)
    during, _ = b.sync(region2)
    still = sum(1 for s in socks if s.fileno() >= 0)
    for s in socks:
        s.close()
    per = (held - base) * 1024 / conns
    print(f"4. {conns:,} idle TCP connections held against the lead while a region syncs "
          f"{alone_cells:,} cells")
    line("sync alone / with the idle connections", f"{alone * 1000:.0f}/{during * 1000:.0f}", "ms",
         f"ratio {during / alone:.2f} (target <= 2)")
    line("daemon resident memory per idle connection", f"{per / 1024:.1f}", "KiB",
         f"target < 20 KiB: {'ok' if per < 20480 else 'OVER'}")
    line("connections still open at the end", f"{still:,}", "", "")
    b.stop(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--only", default="1,2,3,4,5")
    ap.add_argument("--repeat", type=int, default=None,
                    help="runs of benchmarks 1 and 3, the median printed (default 3 with --full, "
                         "else 1)")
    a = ap.parse_args()
    repeat = max(1, a.repeat if a.repeat is not None else (3 if a.full else 1))
    only = set(a.only.split(","))
    n = 1000000 if a.full else 100000
    regions = 300 if a.full else 30
    conns = 10000 if a.full else 1000
    work = tempfile.mkdtemp(prefix="jetsync-bench.")
    b = Bench(a.build, work)
    try:
        print(f"replication benchmarks ({'full' if a.full else 'small'} size); limits from "
              f"../shared/limits.md; figures vary +-30% on shared machines")
        ref = None
        if only & {"1", "2", "5"}:
            try:
                ref = reference(n)
            except Exception as e:  # the reference is for comparison only
                print(f"  (reference bench_sync not run: {e})")
            single, single_records = bench_initial(b, n, ref, repeat)
            single_rate, single_rec_rate = n / single, single_records / single
        else:
            single_rate, single_rec_rate = 400000.0, None
        if "3" in only:
            bench_many(b, regions, int(os.environ.get("BENCH_MANY_CELLS", "10000")), single_rate,
                       single_rec_rate, repeat)
        if "4" in only:
            bench_idle(b, conns, 10000)
    finally:
        b.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
