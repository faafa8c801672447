"""The constructor refuses a bad dataset directory with a ValueError that names the problem."""

from __future__ import annotations

import os
import shutil
import struct

import numpy as np
import pytest

from vatom_fast import DatasetError, VisualAtomDataset, load_manifest, read_npy_header


def _refused(root, *fragments):
    with pytest.raises(ValueError) as ei:
        VisualAtomDataset(root)
    msg = str(ei.value)
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    assert isinstance(ei.value, DatasetError)
    return msg


def _edit(synth, fn):
    m = synth.manifest()
    fn(m)
    synth.write_manifest(m)


def test_valid_fixture_loads(synth):
    ds = VisualAtomDataset(synth.root, output="numpy", channels=1)
    assert len(ds) == 15 and np.array_equal(ds[7][0], synth.images[7])


@pytest.mark.parametrize("key", ["images", "labels"])
def test_parent_dir_name(synth, key, tmp_path):
    # even when the target exists and is a valid shard
    shutil.copy(synth.root / f"{key}-00000.npy", tmp_path / "x.npy")
    _edit(synth, lambda m: m["shards"][0].__setitem__(key, "../x.npy"))
    _refused(synth.root, f"/shards/0/{key}", '"../x.npy"', "must match pattern")


def test_dotdot_name(synth):
    _edit(synth, lambda m: m["shards"][1].__setitem__("images", ".."))
    _refused(synth.root, '/shards/1/images ("..")', "must match pattern")


def test_absolute_path(synth):
    target = str(synth.root / "images-00000.npy")  # absolute, even though it points inside
    _edit(synth, lambda m: m["shards"][0].__setitem__("images", target))
    _refused(synth.root, "/shards/0/images", "must match pattern")


def test_subdirectory_name(synth):
    (synth.root / "sub").mkdir()
    shutil.move(synth.root / "labels-00001.npy", synth.root / "sub" / "labels-00001.npy")
    _edit(synth, lambda m: m["shards"][1].__setitem__("labels", "sub/labels-00001.npy"))
    _refused(synth.root, '/shards/1/labels ("sub/labels-00001.npy")', "must match pattern")


def test_symlink_leaving_dir(synth, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.move(synth.root / "images-00001.npy", outside / "images-00001.npy")
    os.symlink(outside / "images-00001.npy", synth.root / "images-00001.npy")
    _refused(synth.root, "images-00001.npy", "is a symbolic link (refused")


def test_relative_symlink_leaving_dir(synth, tmp_path):
    shutil.move(synth.root / "labels-00000.npy", tmp_path / "labels-00000.npy")
    os.symlink("../labels-00000.npy", synth.root / "labels-00000.npy")
    _refused(synth.root, "labels-00000.npy", "is a symbolic link (refused")


def test_symlink_inside_dir_is_refused_too(synth):
    # Shard files are regular files of the directory: no symlink at all (O_NOFOLLOW), so what was
    # checked cannot be swapped by retargeting a link.
    os.rename(synth.root / "images-00000.npy", synth.root / "real-images.npy")
    os.symlink("real-images.npy", synth.root / "images-00000.npy")
    _refused(synth.root, "images-00000.npy", "is a symbolic link (refused")


def test_dataset_dir_itself_a_symlink_is_fine(synth, tmp_path):
    os.symlink(synth.root, tmp_path / "link")
    ds = VisualAtomDataset(tmp_path / "link", output="numpy", channels=1)
    assert np.array_equal(ds[-1][0], synth.images[-1])


def test_truncated_images(synth):
    p = synth.root / "images-00001.npy"
    with open(p, "r+b") as f:
        f.truncate(p.stat().st_size - 1)
    _refused(synth.root, "images-00001.npy", "size", "truncated")


def test_extended_labels(synth):
    with open(synth.root / "labels-00000.npy", "ab") as f:
        f.write(b"\0\0\0\0")
    _refused(synth.root, "labels-00000.npy", "size")


def test_truncated_inside_header(synth):
    with open(synth.root / "images-00000.npy", "r+b") as f:
        f.truncate(100)
    _refused(synth.root, "images-00000.npy", "truncated .npy header")


def _rewrite_header(path, old: bytes, new: bytes):
    data = bytearray(path.read_bytes())
    i = data.find(old)
    assert i >= 0
    assert len(old) == len(new)
    data[i:i + len(old)] = new
    path.write_bytes(bytes(data))


def test_wrong_image_dtype(synth):
    # same header length, so only the dtype is wrong (the size check would then fail too)
    _rewrite_header(synth.root / "images-00000.npy", b"'|u1'", b"'<u2'")
    msg = _refused(synth.root, "images-00000.npy", "dtype", "'<u2'", "'|u1'")
    assert "size" not in msg  # the dtype is what is reported


def test_wrong_label_dtype(synth):
    _rewrite_header(synth.root / "labels-00001.npy", b"'<i4'", b"'<f4'")
    _refused(synth.root, "labels-00001.npy", "dtype", "'<f4'", "'<i4'")


def test_big_endian_labels(synth):
    _rewrite_header(synth.root / "labels-00001.npy", b"'<i4'", b"'>i4'")
    _refused(synth.root, "labels-00001.npy", "dtype", "'>i4'")


def test_fortran_order(synth):
    _rewrite_header(synth.root / "images-00000.npy", b"'fortran_order': False", b"'fortran_order': True ")
    _refused(synth.root, "images-00000.npy", "Fortran order")


def test_wrong_shape_in_header(synth):
    _rewrite_header(synth.root / "images-00001.npy", b"(5, 32, 32)", b"(5, 32, 16)")
    _refused(synth.root, "images-00001.npy", "shape (5, 32, 16)", "expected (5, 32, 32)")


def test_bad_magic(synth):
    _rewrite_header(synth.root / "labels-00000.npy", b"\x93NUMPY", b"\x93NUMPX")
    _refused(synth.root, "labels-00000.npy", "magic")


def test_shard_count_does_not_match_file(synth):
    def f(m):
        m["shards"][0]["count"] = 9
        m["shards"][1]["first"] = 9
        m["shards"][1]["count"] = 6
    _edit(synth, f)
    _refused(synth.root, "counts do not add up", "shard 0 holds images 0 + 9; shard 0 holds 0 + 10")


def test_counts_do_not_add_up_total(synth):
    _edit(synth, lambda m: m.__setitem__("imageCount", 16))
    _refused(synth.root, "counts do not add up", "imageCount 16", "classes 3 * instances 5")


def test_counts_do_not_add_up_classes(synth):
    _edit(synth, lambda m: m.__setitem__("classes", 4))
    _refused(synth.root, "counts do not add up", "imageCount 15 != classes 4 * instances 5")


def test_counts_gap_between_shards(synth):
    _edit(synth, lambda m: m["shards"][1].__setitem__("first", 11))
    _refused(synth.root, "counts do not add up", "shard 1 holds images 11 + 5; shard 1 holds 10 + 5")


def test_counts_shards_short_of_image_count(synth):
    _edit(synth, lambda m: m["shards"].pop())
    _refused(synth.root, "lists 1 shards, expected 2")


def test_shards_out_of_order(synth):
    _edit(synth, lambda m: m["shards"].reverse())
    _refused(synth.root, "shard 0 names 'images-00001.npy'", "swapped or duplicated entries are refused")


def test_non_integer_fields(synth):
    def f(m):
        m["imageSize"] = 32.5
        m["instances"] = True
    _edit(synth, f)
    _refused(synth.root, "/imageSize (32.5) must be integer")
    _edit(synth, lambda m: m.__setitem__("imageSize", 32.0))  # the integer 32 in JSON, as JavaScript reads it
    _refused(synth.root, "/instances (true) must be integer")


def test_non_integer_shard_count(synth):
    _edit(synth, lambda m: m["shards"][0].__setitem__("count", "10"))
    _refused(synth.root, '/shards/0/count ("10") must be integer')


def test_incomplete_manifest(synth):
    _edit(synth, lambda m: m.__setitem__("complete", False))
    _refused(synth.root, "complete is False", "interrupted")


def test_complete_missing(synth):
    _edit(synth, lambda m: m.pop("complete"))
    _refused(synth.root, "must have required property 'complete'")


def test_wrong_format_and_version(synth):
    _edit(synth, lambda m: m.__setitem__("format", "something-else"))
    _refused(synth.root, '/format ("something-else") must be "vatom-fast"')
    _edit(synth, lambda m: (m.__setitem__("format", "vatom-fast"), m.__setitem__("version", 3)))
    _refused(synth.root, "/version (3) must be one of 1, 2")


@pytest.mark.parametrize("name", ["images-00001.npy", "labels-00000.npy"])
def test_missing_file(synth, name):
    os.remove(synth.root / name)
    _refused(synth.root, "missing file", name)


def test_dangling_symlink(synth):
    os.remove(synth.root / "images-00000.npy")
    os.symlink("gone.npy", synth.root / "images-00000.npy")
    _refused(synth.root, "images-00000.npy is a symbolic link (refused")


def test_every_problem_listed(synth):
    os.remove(synth.root / "labels-00001.npy")
    with open(synth.root / "images-00000.npy", "r+b") as f:
        f.truncate(5000)
    with pytest.raises(DatasetError) as ei:
        VisualAtomDataset(synth.root)
    assert len(ei.value.problems) == 2
    assert "missing file labels-00001.npy" in str(ei.value) and "images-00000.npy size is 5000 bytes" in str(ei.value)


def test_missing_manifest_and_dir(synth, tmp_path):
    _refused(tmp_path / "nope", "not a directory")
    os.remove(synth.manifest_path)
    _refused(synth.root, "missing file manifest.json")


def test_manifest_not_json(synth):
    synth.manifest_path.write_text("{not json")
    _refused(synth.root, "manifest.json is not valid JSON")


def test_manifest_bytes_mismatch(synth):
    _edit(synth, lambda m: m["shards"][1].__setitem__("imagesBytes", 1))
    _refused(synth.root, "shard 1 records 1 and 148 bytes; 5 images of 32x32 take 9216 and 148")


def test_duplicate_file_name(synth):
    _edit(synth, lambda m: m["shards"][1].__setitem__("labels", "labels-00000.npy"))
    _refused(synth.root, "shard 1 names 'images-00001.npy' and 'labels-00000.npy'", "swapped or duplicated entries are refused")


def test_shard_name_is_directory(synth):
    os.remove(synth.root / "images-00000.npy")
    (synth.root / "images-00000.npy").mkdir()
    _refused(synth.root, "images-00000.npy is not a regular file")


def test_verify_checksums(synth):
    p = synth.root / "images-00001.npy"
    data = bytearray(p.read_bytes())
    data[-1] ^= 0xFF  # same size, different content: only the hash can tell
    p.write_bytes(bytes(data))
    VisualAtomDataset(synth.root)  # the cheap checks pass
    with pytest.raises(ValueError, match="images-00001.npy sha256"):
        VisualAtomDataset(synth.root, verify_checksums=True)


def test_verify_checksums_wrong_labels(synth):
    from conftest import sha256_file, write_npy

    bad = synth.labels[10:].copy()
    bad[2] = 0
    write_npy(synth.root / "labels-00001.npy", bad, 64)

    def f(m):
        m["shards"][1]["labelsSha256"] = sha256_file(synth.root / "labels-00001.npy")
    _edit(synth, f)
    with pytest.raises(ValueError, match=r"image 12 is labelled 0, its class is 2"):
        load_manifest(str(synth.root), verify_checksums=True)


def test_read_npy_header_versions(tmp_path):
    a = np.arange(6, dtype="<i4")
    np.save(tmp_path / "a.npy", a)
    h = read_npy_header(str(tmp_path / "a.npy"))
    assert h.descr == "<i4" and h.shape == (6,) and not h.fortran_order
    assert h.expected_file_size == (tmp_path / "a.npy").stat().st_size
    assert np.load(tmp_path / "a.npy", mmap_mode="r").offset == h.data_offset
    # version 2.0 header (uint32 length)
    hdr = b"{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }"
    hdr += b" " * ((-(12 + len(hdr) + 1)) % 64) + b"\n"
    (tmp_path / "b.npy").write_bytes(b"\x93NUMPY\x02\x00" + struct.pack("<I", len(hdr)) + hdr + bytes(6))
    h = read_npy_header(str(tmp_path / "b.npy"))
    assert h.version == (2, 0) and h.shape == (2, 3) and h.data_offset == 12 + len(hdr)
    assert np.load(tmp_path / "b.npy").shape == (2, 3)


def test_bad_arguments(synth):
    with pytest.raises(ValueError, match="channels"):
        VisualAtomDataset(synth.root, channels=2)
    with pytest.raises(ValueError, match="output"):
        VisualAtomDataset(synth.root, output="jpeg")
