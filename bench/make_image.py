#!/usr/bin/env python3
"""Writes a docker-save archive (classic layout, uncompressed layers) for the image benches.

  make_image.py OUT.tar NAME:TAG KIND

KIND "mixed" (~200 MB, several layers: one large file of incompressible bytes, one of 20000
small files, one of medium text files, and a few small layers), "ten" (10 small layers, for
the rootfs mount bench) or "fifty" (50 layers of 40 small files each, ~5 MB, for the registry
bench). Deterministic: the same arguments give the same bytes.
"""

import hashlib
import io
import json
import random
import sys
import tarfile


def tar_of(files):
    """files: list of (name, bytes) or (name, None) for a directory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                t.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o644
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def layers_for(kind):
    rng = random.Random(42)
    if kind == "fifty":
        return [tar_of([("l%02d" % i, None)] +
                       [("l%02d/f%02d" % (i, f), rng.randbytes(rng.randint(512, 4096)))
                        for f in range(40)])
                for i in range(50)]
    if kind == "ten":
        return [tar_of([("l%d" % i, None), ("l%d/file" % i, b"layer %d\n" % i * 100)])
                for i in range(10)]
    words = [("w%d" % i).encode() for i in range(5000)]
    big = rng.randbytes(120 << 20)
    small = [("small", None)]
    for d in range(100):
        small.append(("small/%02d" % d, None))
        for f in range(200):
            small.append(("small/%02d/f%03d" % (d, f), rng.randbytes(rng.randint(256, 3800))))
    text = [("text", None)]
    for f in range(50):
        text.append(("text/t%02d.txt" % f,
                     b" ".join(rng.choice(words) for _ in range(90000))))
    tiny = [tar_of([("etc", None), ("etc/tiny%d" % i, b"tiny\n")]) for i in range(3)]
    return [tar_of([("big", None), ("big/blob.bin", big)]), tar_of(small), tar_of(text)] + tiny


def main():
    out, name, kind = sys.argv[1:4]
    layers = layers_for(kind)
    diff_ids = ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "layer %d" % i}
                    for i in range(len(layers))],
    }, separators=(",", ":")).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    entries = [(config_name, config)]
    paths = []
    for d, layer in zip(diff_ids, layers):
        entries.append((d[7:], None))
        entries.append((d[7:] + "/layer.tar", layer))
        paths.append(d[7:] + "/layer.tar")
    entries.append(("manifest.json", json.dumps(
        [{"Config": config_name, "RepoTags": [name], "Layers": paths}]).encode()))
    with open(out, "wb") as f:
        f.write(tar_of(entries))


if __name__ == "__main__":
    main()
