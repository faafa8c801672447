#!/usr/bin/python3
"""Test oracle for the reference stream: the algorithm of render_VisualAtom.py (CVPR 2023 VisualAtom),
rewritten from shared/REFERENCE_RENDERER.md, run on CPython's `random`, the `noise` package's pnoise1
and Pillow's ImageDraw.line (Debian: python3-noise 1.2.3, python3-pil 9.4).

    reference_render.py render --config JSON --threads T --classes C --instances I --out FILE
        Runs every process t = 0..T-1 of the script (seed t + 1, classes [t*cpt, (t+1)*cpt),
        cpt = C // T) and writes all images in dataset order (class-major) as raw gray bytes
        (channel 0, S*S bytes each) to FILE. Prints the class parameters as JSON on stdout.
    reference_render.py decode FILE.png... --out FILE
        Writes channel 0 of each PNG, concatenated, to FILE.

Config keys (camelCase, as the addon's spec): imageSize, verticesMin, verticesMax, orbitsMin,
orbitsMax, noiseMin, lineWidth, radiusMin, ovalRate, startPos, freq1Min, freq1Max, freq2Min, freq2Max.
"""
import argparse
import json
import math
import random
import sys

from noise import pnoise1
from PIL import Image, ImageDraw


def num(x):
    # The script's argparse gives ints for integral options; keep ints where the value is integral so
    # that int arithmetic (uniform's b - a) stays exact, as in the script.
    return int(x) if float(x).is_integer() else float(x)


def run_process(cfg, t, cpt, instances, out, params):
    S = cfg["imageSize"]
    sp = cfg["startPos"]
    pm = num(cfg["noiseMin"])
    lw_arg = float(cfg["lineWidth"])
    oval = num(cfg["ovalRate"])
    random.seed(t + 1)
    for _ in range(cpt):
        V = random.randint(cfg["verticesMin"], cfg["verticesMax"])
        L = random.randint(cfg["orbitsMin"], cfg["orbitsMax"])
        coef = random.uniform(pm, pm + 4)
        lw = random.uniform(0.0, lw_arg)
        rad = random.randint(cfg["radiusMin"], cfg["radiusMin"] + 50)
        n1 = random.randint(cfg["freq1Min"], cfg["freq1Max"])
        while True:
            n2 = random.randint(cfg["freq2Min"], cfg["freq2Max"])
            if n1 != n2 or n1 == 0:
                break
        ovx = random.uniform(1, oval)
        ovy = random.uniform(1, oval)
        params.append([V, L, rad, n1, n2, coef, lw, ovx, ovy])
        cy = (S + random.randint(-sp, sp)) / 2
        cx = (S + random.randint(-sp, sp)) / 2
        angle = (math.pi * 2) / V
        for _k in range(instances):
            img = Image.new("RGB", (S, S), (0, 0, 0))
            draw = ImageDraw.Draw(img)
            xs = []
            ys = []
            for v in range(V):
                xs.append(math.cos(angle * v) * rad * ovx + cx)
                ys.append(math.sin(angle * v) * rad * ovy + cy)
            xs.append(xs[0])
            ys.append(ys[0])
            for _line in range(L):
                g = random.randint(0, 255)
                noise_x = []
                noise_y = []
                for v in range(V):
                    noise_x.append(pnoise1(random.uniform(0, 10000)) * coef - coef
                                   - 0.5 * math.sin(angle * v * n1) - 0.5 * math.sin(angle * v * n2))
                for v in range(V):
                    noise_y.append(pnoise1(random.uniform(0, 10000)) * coef - coef
                                   - 0.5 * math.sin(angle * v * n1) - 0.5 * math.sin(angle * v * n2))
                for v in range(V):
                    xs[v] = xs[v] - math.cos(angle * v) * (noise_x[v] - lw)
                    ys[v] = ys[v] - math.sin(angle * v) * (noise_y[v] - lw)
                xs[V] = xs[0]
                ys[V] = ys[0]
                for v in range(V):
                    draw.line((xs[v], ys[v], xs[v + 1], ys[v + 1]), fill=(g, g, g), width=1)
            out.write(img.getchannel(0).tobytes())
            cy = (S + random.randint(-sp, sp)) / 2
            cx = (S + random.randint(-sp, sp)) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["render", "decode"])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--config")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--classes", type=int)
    ap.add_argument("--instances", type=int)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if a.mode == "decode":
        with open(a.out, "wb") as out:
            for f in a.files:
                out.write(Image.open(f).convert("RGB").getchannel(0).tobytes())
        return
    cfg = json.loads(a.config)
    cpt = a.classes // a.threads
    params = []
    with open(a.out, "wb") as out:
        for t in range(a.threads):
            run_process(cfg, t, cpt, a.instances, out, params)
    json.dump(params, sys.stdout)


if __name__ == "__main__":
    main()
