#!/usr/bin/python3
"""Test oracle for RCDB's reference stream: the algorithm of make_rcdb.py (CVPR 2022 RCDB), written
from its description, run on CPython's `random`, the `noise` package's pnoise1 and Pillow's
ImageDraw.line (Debian 12: Python 3.11, python3-noise 1.2.3, python3-pil 9.4).

    rcdb_reference_render.py render --config JSON --threads T --classes C --instances I --out FILE
        Runs every process t = 0..T-1 of the script (seed t + 1, classes [t*cpt, (t+1)*cpt),
        cpt = int(C / T)) and writes all images in dataset order (class-major) as raw gray bytes
        (channel 0, S*S bytes each) to FILE. Prints {class: param CSV text} as JSON on stdout.

Config keys (camelCase, as the addon's spec): imageSize, verticesMax, orbitsMin, noiseMin, lineWidth,
radiusMin, ovalRate, startPos.
"""
import argparse
import csv
import io
import json
import math
import random
import warnings

from noise import pnoise1
from PIL import Image, ImageDraw


def param_csv(rows):
    f = io.StringIO()
    w = csv.writer(f)
    for k, v in rows:
        w.writerow([k, v])
    return f.getvalue()


def run_process(cfg, t, cpt, instances, out, params):
    S = cfg["imageSize"]
    sp = cfg["startPos"]
    vmax = cfg["verticesMax"]
    lmin = cfg["orbitsMin"]
    pmin = int(cfg["noiseMin"])  # the script's int arguments
    oval = int(cfg["ovalRate"])
    rmin = cfg["radiusMin"]
    lw_arg = float(cfg["lineWidth"])
    rng = random.Random(t + 1)
    for cat in range(t * cpt, (t + 1) * cpt):
        while True:
            V = int(rng.expovariate(1 / 100))
            if 2 < V <= vmax:
                break
        lines = rng.randint(lmin, lmin + 199)
        c = rng.uniform(pmin, pmin + 4)
        w = rng.uniform(0.0, lw_arg)
        rad = rng.randint(rmin, rmin + 100)
        ox = rng.uniform(1, oval)
        oy = rng.uniform(1, oval)
        ph = (S + rng.randint(-sp, sp)) / 2
        pw = (S + rng.randint(-sp, sp)) / 2
        params[str(cat)] = param_csv([("Vertex", V), ("Perlin_noise", c), ("line_width", w), ("Center_rad", rad),
                                      ("Line_num", lines), ("Oval_rate_x", ox), ("Oval_rate_y", oy),
                                      ("start_pos_h", ph), ("start_pos_w", pw)])
        angle = (math.pi * 2) / V
        for _ in range(instances):
            im = Image.new("RGB", (S, S), (255, 255, 255))
            draw = ImageDraw.Draw(im)
            xs = [math.cos(angle * v) * rad * ox for v in range(V)]
            ys = [math.sin(angle * v) * rad * oy for v in range(V)]
            xs.append(xs[0])
            ys.append(ys[0])
            for _ in range(lines):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    r = rng.randint(0, S / 2)  # a float bound, as the script's
                nx = [pnoise1(rng.uniform(0, 10000)) * c * 2 - c for _ in range(V)]
                ny = [pnoise1(rng.uniform(0, 10000)) * c * 2 - c for _ in range(V)]
                for v in range(V):
                    xs[v] -= math.cos(angle * v) * (nx[v] - w)
                    ys[v] -= math.sin(angle * v) * (ny[v] - w)
                xs[V] = xs[0]
                ys[V] = ys[0]
                for i in range(V):
                    draw.line((xs[i] + pw, ys[i] + ph, xs[i + 1] + pw, ys[i + 1] + ph), fill=(r, r, r), width=1)
            out.write(im.tobytes()[0::3])
            ox = rng.uniform(1, oval)
            oy = rng.uniform(1, oval)
            rad = rng.randint(rmin, rmin + 100)
            ph = (S + rng.randint(-sp, sp)) / 2
            pw = (S + rng.randint(-sp, sp)) / 2


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render")
    r.add_argument("--config", required=True)
    r.add_argument("--threads", type=int, required=True)
    r.add_argument("--classes", type=int, required=True)
    r.add_argument("--instances", type=int, required=True)
    r.add_argument("--out", required=True)
    a = p.parse_args()
    cfg = json.loads(a.config)
    cpt = int(a.classes / a.threads)
    params = {}
    with open(a.out, "wb") as out:
        for t in range(a.threads):
            run_process(cfg, t, cpt, a.instances, out, params)
    print(json.dumps(params))


if __name__ == "__main__":
    main()
