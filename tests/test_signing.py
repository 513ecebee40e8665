"""Signer: HMAC signatures of message frames, checked against Python's hmac, both twins."""

from __future__ import annotations

import array
import copy
import hashlib
import hmac
import pickle
import random
import threading

import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

DIGESTS = [
    "md5",
    "sha1",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "sha3_224",
    "sha3_256",
    "sha3_384",
    "sha3_512",
    "blake2b",
    "blake2s",
]

_rng = random.Random(20240531)
KEYS = {size: _rng.randbytes(size) for size in (1, 36, 200)}  # 200 > every block size
KEY = KEYS[36]
MIB = _rng.randbytes(1 << 20)
HEADER, CONTENT = _rng.randbytes(200), _rng.randbytes(326)
MESSAGE = [HEADER, b"{}", b"{}", CONTENT]  # about the size of a small Jupyter message


def reference(key: bytes, frames, digest: str = "sha256") -> bytes:
    mac = hmac.new(key, digestmod=getattr(hashlib, digest))
    for frame in frames:
        mac.update(frame if isinstance(frame, bytes) else memoryview(frame).cast("B"))
    return mac.hexdigest().encode()


def raised(call):
    """(type, message) of what call raises."""
    with pytest.raises(Exception) as info:
        call()
    return type(info.value), str(info.value)


# -- equality with Python's hmac ------------------------------------------------------


@pytest.mark.parametrize("key_size", sorted(KEYS))
@pytest.mark.parametrize("digest", DIGESTS)
def test_sign_matches_hmac_for_every_digest(impl, digest, key_size):
    key = KEYS[key_size]
    signer = impl.Signer(key, digest)
    frames = [b"", b"x", MIB, HEADER, b""]
    assert signer.sign(frames) == reference(key, frames, digest)
    assert signer.sign(MESSAGE) == reference(key, MESSAGE, digest)
    assert signer.sign([]) == reference(key, [], digest)
    assert signer.hex_size == 2 * getattr(hashlib, digest)().digest_size
    assert signer.digest_name == digest


@settings(max_examples=60, deadline=None)
@given(key=st.binary(min_size=1, max_size=300), frames=st.lists(st.binary(max_size=300), max_size=12))
def test_sign_matches_hmac_for_any_key_and_frames(key, frames):
    from jsession._py.signing import Signer as PythonSigner

    expected = reference(key, frames)
    assert PythonSigner(key, "sha256").sign(frames) == expected
    compiled = pytest.importorskip("jsession._c.signing")
    assert compiled.Signer(key, "sha256").sign(frames) == expected


def test_signature_is_lowercase_ascii_hex(impl):
    signature = impl.Signer(KEY, "sha512").sign(MESSAGE)
    assert type(signature) is bytes
    assert len(signature) == 128
    assert set(signature) <= set(b"0123456789abcdef")


@pytest.mark.parametrize(
    "make",
    [
        bytes,
        bytearray,
        memoryview,
        lambda data: memoryview(b"--" + data + b"--")[2:-2],  # a contiguous slice
        lambda data: memoryview(data).cast("B", (len(data) // 2, 2)),  # 2-D, C-contiguous
        lambda data: array.array("H", data),
        zmq.Frame,
        lambda data: memoryview(zmq.Frame(data)),
    ],
    ids=["bytes", "bytearray", "memoryview", "slice", "2d", "array", "zmq.Frame", "frame-view"],
)
def test_every_buffer_kind_is_read_as_its_bytes(impl, make):
    frames = [HEADER, b"{}", b"{}", CONTENT + b"!!"]  # even lengths, for the 2-D and array views
    signer = impl.Signer(KEY, "sha256")
    assert signer.sign([make(frame) for frame in frames]) == reference(KEY, frames)


@pytest.mark.parametrize(
    "wrap",
    [list, tuple, iter, lambda frames: (frame for frame in frames)],
    ids=["list", "tuple", "iterator", "generator"],
)
def test_frames_may_be_any_iterable(impl, wrap):
    assert impl.Signer(KEY, "sha256").sign(wrap(MESSAGE)) == reference(KEY, MESSAGE)


def test_many_frames_and_large_totals(impl):
    signer = impl.Signer(KEY, "sha256")
    small_many = [bytes([i]) * 700 for i in range(100)]  # 70 KB in 100 frames
    one_large = [HEADER, b"{}", b"{}", MIB[: 64 * 1024]]  # exactly at the GIL-release size
    just_below = [MIB[: 64 * 1024 - 1]]
    for frames in (small_many, one_large, just_below):
        assert signer.sign(frames) == reference(KEY, frames)
        assert signer.verify(reference(KEY, frames), frames) is True


def test_key_is_copied(impl):
    key = bytearray(KEY)
    signer = impl.Signer(key, "sha256")
    key[:] = b"\0" * len(key)
    assert signer.sign(MESSAGE) == reference(KEY, MESSAGE)


@pytest.mark.parametrize(
    "key", [bytearray(KEY), memoryview(KEY), zmq.Frame(KEY)], ids=["bytearray", "memoryview", "zmq.Frame"]
)
def test_key_may_be_any_buffer(impl, key):
    assert impl.Signer(key, "sha256").sign(MESSAGE) == reference(KEY, MESSAGE)


# -- verify ---------------------------------------------------------------------------


def test_verify_accepts_the_signature_in_any_buffer(impl):
    signer = impl.Signer(KEY, "sha256")
    good = reference(KEY, MESSAGE)
    for signature in (good, bytearray(good), memoryview(good), zmq.Frame(good)):
        assert signer.verify(signature, MESSAGE) is True
    assert signer.verify(zmq.Frame(good), [zmq.Frame(frame) for frame in MESSAGE]) is True


def test_verify_rejects_every_other_signature(impl):
    signer = impl.Signer(KEY, "sha256")
    good = reference(KEY, MESSAGE)
    flipped = bytearray(good)
    flipped[-1] = ord("0") if flipped[-1] != ord("0") else ord("1")
    wrong = [
        b"",
        good[:-1],
        good[:32],
        good + b"0",
        good + good,
        good.upper(),
        b"z" * len(good),
        b"\xff" * len(good),
        bytes(flipped),
        reference(KEY, MESSAGE[:3]),
        reference(KEY, MESSAGE, "sha512"),
        reference(KEYS[1], MESSAGE),
    ]
    for signature in wrong:
        assert signer.verify(signature, MESSAGE) is False, signature
        assert signer.verify(zmq.Frame(signature), MESSAGE) is False, signature


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad, name", [("text", "str"), (7, "int"), (None, "NoneType"), ([b"a"], "list")])
def test_a_frame_without_the_buffer_protocol_is_a_type_error(impl, bad, name):
    signer = impl.Signer(KEY, "sha256")
    message = f"frame 2 does not support the buffer protocol: {name}"
    with pytest.raises(TypeError, match=f"^{message}$"):
        signer.sign([b"a", b"b", bad, b"c"])
    with pytest.raises(TypeError, match=f"^{message}$"):
        signer.verify(reference(KEY, MESSAGE), [b"a", b"b", bad, b"c"])
    with pytest.raises(TypeError, match=f"^{message}$"):  # even when the signature is hopeless
        signer.verify(b"", [b"a", b"b", bad, b"c"])


def test_frames_must_be_iterable(impl):
    signer = impl.Signer(KEY, "sha256")
    with pytest.raises(TypeError, match="^frames must be an iterable of buffers, not int$"):
        signer.sign(42)
    with pytest.raises(TypeError, match="^frame 0 does not support the buffer protocol: int$"):
        signer.sign(b"abc")  # iterable, but of ints


def test_the_signature_must_be_a_buffer(impl):
    signer = impl.Signer(KEY, "sha256")
    with pytest.raises(TypeError, match="^signature does not support the buffer protocol: str$"):
        signer.verify(reference(KEY, MESSAGE).decode(), MESSAGE)


def test_non_contiguous_buffers_are_a_value_error(impl):
    signer = impl.Signer(KEY, "sha256")
    strided = memoryview(HEADER)[::2]
    with pytest.raises(ValueError, match="^frame 1 is not a contiguous buffer$"):
        signer.sign([b"a", strided])
    with pytest.raises(ValueError, match="^signature is not a contiguous buffer$"):
        signer.verify(memoryview(reference(KEY, MESSAGE) * 2)[::2], MESSAGE)
    with pytest.raises(ValueError, match="^key is not a contiguous buffer$"):
        impl.Signer(strided, "sha256")


def test_a_released_view_fails_as_memoryview_does(impl):
    view = memoryview(b"abc")
    view.release()
    assert raised(lambda: impl.Signer(KEY, "sha256").sign([view])) == raised(lambda: memoryview(view))


def test_failed_calls_release_every_buffer(impl):
    signer = impl.Signer(KEY, "sha256")
    frames = [bytearray(b"one"), bytearray(MIB[:70000])]
    for call in (
        lambda: signer.sign([*frames, "str"]),
        lambda: signer.sign([*frames, memoryview(HEADER)[::2]]),
        lambda: signer.verify(b"x", [*frames, None]),
    ):
        with pytest.raises((TypeError, ValueError)):
            call()
    signer.sign(frames)
    signer.verify(b"x", frames)
    for frame in frames:
        frame.extend(b"resizable: no export is left behind")


def test_invalid_keys(impl):
    with pytest.raises(TypeError, match="^key does not support the buffer protocol: str$"):
        impl.Signer("secret", "sha256")
    with pytest.raises(ValueError, match="^key must not be empty$"):
        impl.Signer(b"", "sha256")
    with pytest.raises(TypeError, match="^digest_name must be a str, not bytes$"):
        impl.Signer(KEY, b"sha256")


@pytest.mark.parametrize(
    "name",
    [
        "sha512_256",
        "shake_128",
        "shake_256",
        "new",
        "file_digest",
        "SHA256",
        "sha-256",
        "algorithms_available",
    ],
)
def test_odd_digest_names_raise_what_hmac_raises(impl, name):
    expected = raised(lambda: hmac.new(KEY, digestmod=getattr(hashlib, name)))
    assert raised(lambda: impl.Signer(KEY, name)) == expected


def test_digest_names_are_looked_up_in_hashlib(impl, monkeypatch):
    # a name hashlib has but OpenSSL is not asked for: Python's hmac computes it
    monkeypatch.setattr(hashlib, "jsession_test_digest", hashlib.sha384, raising=False)
    signer = impl.Signer(KEY, "jsession_test_digest")
    assert signer.sign(MESSAGE) == reference(KEY, MESSAGE, "sha384")
    assert signer.verify(zmq.Frame(reference(KEY, MESSAGE, "sha384")), MESSAGE) is True
    assert signer.verify(b"0" * 96, MESSAGE) is False
    assert signer.hex_size == 96
    assert signer.digest_name == "jsession_test_digest"
    with pytest.raises(TypeError, match="^frame 1 does not support the buffer protocol: str$"):
        signer.sign([b"a", "b"])
    # a name hashlib lacks is an AttributeError, even one OpenSSL knows
    monkeypatch.delattr(hashlib, "md5")
    with pytest.raises(AttributeError):
        impl.Signer(KEY, "md5")


# -- the object -----------------------------------------------------------------------


def test_the_key_is_never_shown(impl):
    signer = impl.Signer(KEY, "sha256")
    shown = repr(signer) + str(signer)
    assert shown == "<Signer digest_name='sha256'>" * 2
    for error in (
        raised(lambda: pickle.dumps(signer)),
        raised(lambda: copy.copy(signer)),
        raised(lambda: signer.sign(["x"])),
        raised(lambda: impl.Signer(KEY, "shake_128")),
    ):
        assert KEY.hex() not in error[1] and repr(KEY) not in error[1]
    assert raised(lambda: pickle.dumps(signer))[0] is TypeError
    assert raised(lambda: copy.copy(signer))[0] is TypeError


def test_properties_are_read_only(impl):
    signer = impl.Signer(KEY, "sha256")
    with pytest.raises(AttributeError):
        signer.digest_name = "md5"
    with pytest.raises(AttributeError):
        signer.hex_size = 32
    assert (signer.digest_name, signer.hex_size) == ("sha256", 64)


# -- threads and memory ---------------------------------------------------------------


def test_one_signer_shared_by_threads(impl):
    signer = impl.Signer(KEY, "sha256")
    messages = [MESSAGE, [MIB[:100_000], b"{}"], [bytes([i]) * i for i in range(40)], []]
    expected = [reference(KEY, frames) for frames in messages]
    start = threading.Barrier(8)
    failures = []

    def work(seed):
        start.wait()
        for i in range(150):
            k = (seed + i) % len(messages)
            frames = [zmq.Frame(f) for f in messages[k]] if i % 3 == 0 else messages[k]
            if signer.sign(frames) != expected[k] or not signer.verify(expected[k], frames):
                failures.append((seed, i))
            if signer.verify(expected[k - 1], frames):
                failures.append((seed, i, "accepted"))

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def _peak_rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def test_frames_are_read_in_place(impl):
    try:
        with open("/proc/self/clear_refs", "w") as clear:  # lets VmHWM restart from VmRSS
            clear.write("5")
    except OSError:
        pytest.skip("needs Linux's /proc/self/clear_refs to measure peak memory")
    size = 256 << 20
    frame = bytearray(b"\x5a") * size  # every page written, so resident
    signer = impl.Signer(KEY, "sha256")
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = _peak_rss_kib()
    signature = signer.sign([HEADER, frame])
    grown = _peak_rss_kib() - before
    assert grown < 16 * 1024, f"peak RSS grew by {grown} KiB while signing {size >> 20} MiB"
    assert signature == reference(KEY, [HEADER, memoryview(frame)])
