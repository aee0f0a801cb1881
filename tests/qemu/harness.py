#!/usr/bin/env python3
"""Boots Debian's kernel under QEMU (TCG) with an xHCI controller, runs one guest scenario and acts
on its console requests: "@@QMP cmd k=v ..." is sent to QEMU's QMP socket (hot-plugging sticks),
"@@PASS"/"@@FAIL" are collected. Exits 0 only if the scenario ended cleanly, passed at least one check
and failed none, and every image the scenario declares read-only is byte-for-byte unchanged.

Scenario headers (comment lines in the scenario file):
  # qemu-append: ARGS          extra kernel command line
  # qemu-device: SPEC          a -device present at boot
  # unchanged: DRIVE           the image behind DRIVE must not change
"""
import argparse
import hashlib
import json
import os
import shlex
import socket
import subprocess
import sys
import time

DRIVES = ["d1", "d2", "d3", "d4"]
IMAGE_BYTES = 16 * 1024 * 1024


def make_image(path, label):
    """A 16 MiB stick with an MBR holding one Linux partition, so disk and partition both appear."""
    with open(path, "wb") as f:
        f.truncate(IMAGE_BYTES)
        mbr = bytearray(512)
        # Partition 1: type 0x83, LBA 2048, the rest of the image.
        entry = bytes([0x00, 0, 0, 0, 0x83, 0, 0, 0]) + (2048).to_bytes(4, "little") + (
            IMAGE_BYTES // 512 - 2048).to_bytes(4, "little")
        mbr[446:462] = entry
        mbr[510:512] = b"\x55\xaa"
        mbr[0:len(label)] = label.encode()
        f.seek(0)
        f.write(mbr)


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Qmp:
    def __init__(self, path, deadline):
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.file = self.sock.makefile("rwb")
        self._read_reply()  # the greeting
        self.execute("qmp_capabilities")

    def _read_reply(self):
        while True:
            line = self.file.readline()
            if not line:
                raise RuntimeError("QMP connection closed")
            message = json.loads(line)
            if "event" not in message:
                return message

    def execute(self, command, arguments=None):
        request = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self.file.write(json.dumps(request).encode() + b"\n")
        self.file.flush()
        return self._read_reply()


def headers(scenario):
    found = {"qemu-append": [], "qemu-device": [], "unchanged": []}
    with open(scenario) as f:
        for line in f:
            for key in found:
                prefix = "# " + key + ":"
                if line.startswith(prefix):
                    found[key].append(line[len(prefix):].strip())
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--driver", help="the guard driver the scenario runs, if any")
    ap.add_argument("--share", default="/",
                    help="the host directory shared with the guest as 9p tag hostfs")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--append", default="", help="more kernel command line (scenario options)")
    args = ap.parse_args()

    name = os.path.splitext(os.path.basename(args.scenario))[0]
    work = os.path.join(os.path.abspath(args.workdir), name)
    os.makedirs(work, exist_ok=True)
    console = os.path.join(work, "console.log")
    qmp_path = os.path.join(work, "qmp.sock")
    for stale in (console, qmp_path):
        if os.path.exists(stale):
            os.unlink(stale)
    meta = headers(args.scenario)
    images = {}
    for drive in DRIVES:
        images[drive] = os.path.join(work, drive + ".img")
        make_image(images[drive], "mamori-" + drive)
    before = {d: digest(images[d]) for d in meta["unchanged"]}

    src = os.path.dirname(os.path.abspath(args.scenario))
    append = ["console=ttyS0", "loglevel=1", "panic=-1",
              "mamori.scenario=" + os.path.abspath(args.scenario),
              "mamori.src=" + os.path.dirname(src)] + meta["qemu-append"] + args.append.split()
    if args.driver:
        append.append("mamori.driver=" + os.path.abspath(args.driver))
    command = ["qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-display", "none",
               "-no-reboot", "-nic", "none", "-kernel", args.kernel, "-initrd", args.initrd,
               "-append", " ".join(append), "-serial", "file:" + console, "-monitor", "none",
               "-qmp", "unix:%s,server=on,wait=off" % qmp_path, "-device", "qemu-xhci,id=xhci",
               "-virtfs", "local,path=%s,mount_tag=hostfs,security_model=none,readonly=on,"
               "multidevs=remap" % os.path.abspath(args.share)]
    for drive in DRIVES:
        command += ["-drive", "if=none,id=%s,file=%s,format=raw" % (drive, images[drive])]
    for device in meta["qemu-device"]:
        command += ["-device", device]

    start = time.time()
    deadline = start + args.timeout
    qemu = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    passed, failed, end_rc = [], [], None
    try:
        qmp = Qmp(qmp_path, deadline)
        offset = 0
        pending = b""
        while end_rc is None:
            if time.time() > deadline:
                failed.append("timeout after %.0f s" % args.timeout)
                break
            if qemu.poll() is not None:
                # Read what is left before concluding.
                if os.path.getsize(console) == offset:
                    failed.append("QEMU exited (status %d) before the scenario ended" % qemu.returncode)
                    break
            with open(console, "rb") as f:
                f.seek(offset)
                chunk = f.read()
            offset += len(chunk)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                line = raw.decode(errors="replace").rstrip("\r")
                print(line, flush=True)
                if not line.startswith("@@"):
                    continue
                word, _, rest = line[2:].partition(" ")
                if word == "QMP":
                    parts = shlex.split(rest)
                    arguments = dict(p.split("=", 1) for p in parts[1:])
                    reply = qmp.execute(parts[0], arguments)
                    if "error" in reply:
                        failed.append("QMP %s: %s" % (rest, reply["error"].get("desc")))
                elif word == "PASS":
                    passed.append(rest)
                elif word == "FAIL":
                    failed.append(rest)
                elif word == "END":
                    end_rc = int(rest.partition("=")[2] or 1)
            if not lines:
                time.sleep(0.05)
    finally:
        if qemu.poll() is None:
            try:
                qemu.wait(timeout=10)
            except subprocess.TimeoutExpired:
                qemu.kill()
                qemu.wait()
    elapsed = time.time() - start

    for drive in meta["unchanged"]:
        if digest(images[drive]) != before[drive]:
            failed.append("image %s was written to" % drive)
        else:
            passed.append("image %s unchanged on the host" % drive)
    if end_rc not in (0, None):
        failed.append("scenario exited with status %d" % end_rc)
    if not passed:
        failed.append("no check passed")
    print("== %s: %d passed, %d failed, %.1f s" % (name, len(passed), len(failed), elapsed))
    for f in failed:
        print("FAILED: " + f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
