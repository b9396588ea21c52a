"""Writes the HDF5 fixtures of strata-hdf5 and their expected values.

Regenerate (from the repository root):

    ~/venv-tf/bin/python crates/hdf5/scripts/make_fixtures.py

It needs tensorflow-cpu, tf_keras (legacy Keras 2 `.h5`), keras 3 (`.weights.h5`),
h5py and numpy. Everything is seeded, so the output is the same on every run apart
from the timestamps HDF5 itself may write.

Files written to crates/hdf5/tests/fixtures/:
- vgg_tiny_legacy.h5       tf_keras `model.save_weights('x.h5')` of a VGG16-shaped model
                           with the channels cut down (input 32x32x3)
- vgg_tiny_full_legacy.h5  tf_keras `model.save('x.h5')`: weights under `model_weights/`
- vgg_tiny.weights.h5      keras 3 `model.save_weights('x.weights.h5')` of the same weights
- nested.weights.h5        keras 3 weights of a model with a nested Sequential and a
                           BatchNormalization (layers below layers, four variables)
- split_names_legacy.h5    a legacy-layout file whose `layer_names` is split into
                           `layer_names0`, `layer_names1` (as Keras does past 64 KiB)
- edge.h5                  h5py edge cases with libver v108 (superblock 2, object header 2,
                           layout message 4 with fixed-array chunk indexes): chunked,
                           gzip + shuffle, big-endian, f16, f64, integer, dense attribute
                           storage, dense link storage, variable-length strings
- edge_v0.h5               the same cases written with the earliest file format (superblock 0,
                           symbol-table groups, v1 B-tree chunk indexes)
- unsupported.h5           features the reader refuses with a named error: a growable
                           dataset (extensible-array chunk index) and a soft link
- expected.json            shapes and values (or summaries) of every weight, plus the
                           tiny VGG's logits on a fixed input
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures")

# (name, filters) of the convolutions in each VGG16 block, channels cut down.
BLOCKS = [(1, 2, 4), (2, 2, 4), (3, 3, 8), (4, 3, 8), (5, 3, 8)]
FC = 16
CLASSES = 10
SIZE = 32


def build(k):
    """Builds the tiny VGG with the given Keras module (tf_keras or keras)."""
    layers = k.layers
    inp = layers.Input((SIZE, SIZE, 3), name="input_1")
    x = inp
    for block, convs, filters in BLOCKS:
        for i in range(1, convs + 1):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu",
                              name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(FC, activation="relu", name="fc1")(x)
    x = layers.Dense(FC, activation="relu", name="fc2")(x)
    x = layers.Dense(CLASSES, activation="softmax", name="predictions")(x)
    return k.Model(inp, x, name="vgg16")


def fixed_weights(model, rng):
    """Seeded weights, scaled so activations neither vanish nor explode."""
    out = []
    for w in model.get_weights():
        if w.ndim == 1:
            out.append(rng.uniform(-0.1, 0.1, w.shape).astype(np.float32))
        else:
            fan_in = int(np.prod(w.shape[:-1]))
            out.append((rng.standard_normal(w.shape) * np.sqrt(2.0 / fan_in)).astype(np.float32))
    return out


def fixed_input():
    """A deterministic NHWC batch of two images the Rust side can rebuild exactly."""
    n, h, w, c = np.meshgrid(np.arange(2), np.arange(SIZE), np.arange(SIZE), np.arange(3),
                             indexing="ij")
    return np.sin(0.1 * h + 0.2 * w + 0.7 * c + 1.3 * n).astype(np.float32)


def summary(a):
    """Values of small arrays in full; a summary of larger ones."""
    flat = np.asarray(a, dtype=np.float64).ravel()
    s = {"shape": list(a.shape), "sum": float(flat.sum()), "sum_abs": float(np.abs(flat).sum()),
         "first": [float(v) for v in flat[:8]], "last": [float(v) for v in flat[-8:]]}
    if flat.size <= 64:
        s["values"] = [float(v) for v in flat]
    return s


def vgg_fixtures(expected):
    import tf_keras
    import keras

    rng = np.random.default_rng(16)
    legacy = build(tf_keras)
    weights = fixed_weights(legacy, rng)
    legacy.set_weights(weights)
    legacy.save_weights(os.path.join(OUT, "vgg_tiny_legacy.h5"))
    legacy.save(os.path.join(OUT, "vgg_tiny_full_legacy.h5"), include_optimizer=False)

    k3 = build(keras)
    k3.set_weights(weights)
    k3.save_weights(os.path.join(OUT, "vgg_tiny.weights.h5"))

    x = fixed_input()
    # Logits: the output of the last Dense before its softmax.
    def logits(model, k):
        pre = k.Model(model.input, model.get_layer("fc2").output)
        h = pre(x).numpy() if hasattr(pre(x), "numpy") else np.asarray(pre(x))
        dense = model.get_layer("predictions")
        kern, bias = [np.asarray(v) for v in dense.get_weights()]
        return h.astype(np.float64) @ kern.astype(np.float64) + bias

    l_legacy = logits(legacy, tf_keras)
    l_k3 = logits(k3, keras)
    assert np.allclose(l_legacy, l_k3, atol=1e-5), (l_legacy, l_k3)
    probs = np.asarray(legacy(x))

    layers = []
    i = 0
    for layer in legacy.layers:
        ws = layer.weights
        if not ws:
            continue
        entry = {"name": layer.name, "weights": []}
        for w in ws:
            entry["weights"].append({"name": w.name, **summary(weights[i])})
            i += 1
        layers.append(entry)
    expected["vgg_tiny"] = {
        "input": {"shape": list(x.shape), "layout": "NHWC",
                  "formula": "sin(0.1*h + 0.2*w + 0.7*c + 1.3*n) in float64, then rounded to float32"},
        "logits": [[float(v) for v in row] for row in l_legacy],
        "probabilities": [[float(v) for v in row] for row in probs],
        "layers": layers,
    }


def edge_arrays():
    rng = np.random.default_rng(7)
    return {
        "contiguous_f32": rng.standard_normal((3, 5)).astype("<f4"),
        "big_endian_f32": rng.standard_normal((4, 3)).astype(">f4"),
        "big_endian_f64": rng.standard_normal((2, 3)).astype(">f8"),
        "f16": rng.standard_normal((6,)).astype("<f2"),
        "f64": rng.standard_normal((2, 2, 2)).astype("<f8"),
        "i32": np.arange(-5, 7, dtype="<i4").reshape(3, 4),
        "u8": np.arange(250, 256, dtype="u1"),
        "scalar": np.array(2.5, dtype="<f4"),
        "chunked": rng.standard_normal((7, 9)).astype("<f4"),
        "chunked_gzip": rng.standard_normal((10, 6, 3)).astype("<f4"),
        "chunked_shuffle_gzip": rng.standard_normal((33, 5)).astype("<f4"),
        "chunked_be_gzip": rng.standard_normal((12, 4)).astype(">f8"),
        "empty": np.zeros((0, 4), dtype="<f4"),
    }


def write_edge(path, libver):
    arrays = edge_arrays()
    with h5py.File(path, "w", libver=libver) as f:
        g = f.create_group("data")
        for name, a in arrays.items():
            kw = {}
            if name == "chunked":
                kw = {"chunks": (3, 4)}
            elif name == "chunked_gzip":
                kw = {"chunks": (4, 6, 2), "compression": "gzip", "compression_opts": 4}
            elif name == "chunked_shuffle_gzip":
                kw = {"chunks": (8, 5), "compression": "gzip", "shuffle": True}
            elif name == "chunked_be_gzip":
                kw = {"chunks": (5, 3), "compression": "gzip"}
            g.create_dataset(name, data=a, **kw)
        # A never-written chunked dataset: every value is the fill value.
        g.create_dataset("unwritten", shape=(4, 4), chunks=(2, 2), dtype="<f4", fillvalue=1.5)
        # Attributes: fixed-length strings, variable-length strings, numbers.
        f.attrs["fixed_names"] = np.array([b"alpha", b"be", b"gamma_long"])
        f.attrs["vlen_name"] = "a variable-length string"
        f.attrs["vlen_names"] = np.array(["x", "yy", "zzz"], dtype=h5py.string_dtype())
        f.attrs["int_attr"] = np.int64(42)
        f.attrs["float_attrs"] = np.array([1.0, 2.5], dtype="<f8")
        # Many attributes on one object: with libver latest past 8 they go dense.
        many = f.create_group("many_attrs")
        for i in range(20):
            many.attrs[f"attr{i:02d}"] = np.array([i, i * 2], dtype="<i4")
        # Many links in one group: with libver latest past 16 links go dense.
        wide = f.create_group("wide")
        for i in range(40):
            wide.create_dataset(f"d{i:02d}", data=np.full((2,), i, dtype="<f4"))
    return arrays


def write_split_legacy(path):
    """A legacy-layout weights file whose layer names span two attributes."""
    with h5py.File(path, "w", libver="earliest") as legacy:
        names = [f"layer_{i:03d}".encode() for i in range(6)]
        legacy.attrs["layer_names0"] = np.array(names[:4])
        legacy.attrs["layer_names1"] = np.array(names[4:])
        legacy.attrs["backend"] = b"tensorflow"
        for i, n in enumerate(names):
            lg = legacy.create_group(n.decode())
            wn = [f"{n.decode()}/kernel:0".encode()] if i % 2 == 0 else []
            lg.attrs["weight_names"] = np.array(wn, dtype="S1" if not wn else None)
            if wn:
                sub = lg.create_group(n.decode())
                sub.create_dataset("kernel:0", data=np.full((2, 3), i, dtype="<f4"))


def write_unsupported(path):
    with h5py.File(path, "w", libver="latest") as f:
        f.create_dataset("growable", data=np.arange(10, dtype="<f4"), maxshape=(None,), chunks=(4,))
        f["soft"] = h5py.SoftLink("/growable")


def nested_fixture(expected):
    import keras

    rng = np.random.default_rng(3)
    inner = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(3, name="inner_dense"),
                              keras.layers.BatchNormalization(name="inner_bn")], name="inner")
    inp = keras.layers.Input((4,), name="x")
    out = keras.layers.Dense(2, name="head")(inner(inp))
    model = keras.Model(inp, out, name="outer")
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()])
    model.save_weights(os.path.join(OUT, "nested.weights.h5"))
    layers = []
    for layer in [inner.get_layer("inner_dense"), inner.get_layer("inner_bn"), model.get_layer("head")]:
        layers.append({"name": layer.name,
                       "weights": [summary(np.asarray(w)) for w in layer.get_weights()]})
    expected["nested"] = {"layers": layers}


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    vgg_fixtures(expected)
    nested_fixture(expected)
    write_split_legacy(os.path.join(OUT, "split_names_legacy.h5"))
    write_unsupported(os.path.join(OUT, "unsupported.h5"))
    arrays = write_edge(os.path.join(OUT, "edge.h5"), "v108")
    write_edge(os.path.join(OUT, "edge_v0.h5"), "earliest")
    expected["edge"] = {name: {"shape": list(a.shape),
                               "values": [float(v) for v in np.asarray(a, np.float64).ravel()]}
                        for name, a in arrays.items()}
    expected["edge"]["unwritten"] = {"shape": [4, 4], "values": [1.5] * 16}
    with open(os.path.join(OUT, "expected.json"), "w") as fh:
        json.dump(expected, fh, indent=1)
        fh.write("\n")
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)), file=sys.stderr)


if __name__ == "__main__":
    main()
