"""Rendering straight into GPU memory: the C ABI's vatom_render_range_device and
Renderer.render_range_cuda. Where no CUDA renderer exists (a CPU renderer, a build or machine without
CUDA) the call is refused with a message that says why; on a machine with a GPU the images in the CUDA
tensor equal the CPU renderer's, aligned or not, on the default stream or another one."""

from __future__ import annotations

import numpy as np
import pytest

from vatom_fast import native

pytestmark = pytest.mark.skipif(not native.available(), reason="the native library is not built")


def small_spec() -> native.Spec:
    config = native.paper_config()
    config.image_size = 64
    config.vertices_min, config.vertices_max = 50, 100
    config.orbits_min, config.orbits_max = 5, 20
    return native.make_spec(config, native.STREAM_PHILOX, 3, 0, 2, 3)


def cuda_usable() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def test_a_cpu_renderer_refuses_gpu_memory():
    r = native.Renderer(small_spec(), threads=1, device="cpu")
    with pytest.raises(native.NativeError) as e:
        r.render_range_device(0, 2, 0x10000, 2 * 64 * 64)
    assert e.value.code == native.ERROR_UNAVAILABLE
    assert e.value.message.startswith(
        'rendering into GPU memory needs a renderer made with device "cuda"; this one renders on the CPU')
    # The renderer still works afterwards.
    assert r.render_range(0, 2).shape == (2, 64, 64)


def test_a_host_tensor_is_refused_before_the_native_call():
    torch = pytest.importorskip("torch")
    r = native.Renderer(small_spec(), threads=1, device="cpu")
    with pytest.raises(TypeError, match=r"^out must be a contiguous uint8 tensor on cuda:0, not torch.uint8 on cpu$"):
        r.render_range_cuda(0, 2, torch.empty((2, 64, 64), dtype=torch.uint8))


@pytest.mark.skipif(cuda_usable(), reason="this machine has a usable GPU")
def test_no_cuda_renderer_without_a_gpu():
    with pytest.raises(native.NativeError) as e:
        native.Renderer(small_spec(), threads=1, device="cuda")
    assert e.value.code == native.ERROR_UNAVAILABLE
    assert "CUDA" in e.value.message


@pytest.mark.skipif(not cuda_usable(), reason="no usable GPU")
def test_images_in_a_cuda_tensor_equal_the_cpu_images():
    import torch

    spec = small_spec()
    cpu = native.Renderer(spec, threads=2, device="cpu").render_range(0, 6)
    gpu = native.Renderer(spec, threads=2, device="cuda")
    assert np.array_equal(gpu.render_range_cuda(0, 6).cpu().numpy(), cpu)
    # One byte off the allocation's alignment (the renderer copies through its own buffer), another stream.
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        out = torch.zeros(4 * 64 * 64 + 1, dtype=torch.uint8, device="cuda:0")[1:].view(4, 64, 64)
        gpu.render_range_cuda(2, 6, out)
    side.synchronize()
    assert np.array_equal(out.cpu().numpy(), cpu[2:6])
