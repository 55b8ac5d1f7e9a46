#!/usr/bin/env python3
"""Restore the newest snapshot of a leafguard region without leafguard.

    python3 docs/recover.py REGION_PATH MASTER_KEY_FILE OUT_DIR [SNAPSHOT_ID] [--keyring FILE]

MASTER_KEY_FILE is the key `keys.master` names (32 bytes or their base64). The keyring
(every master-key version, sealed under that key) is read from the region itself: the
`keyring` object in its locations, the newest copy whose MAC checks. `--keyring FILE`
uses a keyring file instead (STATE/keys/keyring.json).

An independent implementation of docs/format.md: Python's standard library, the
`cryptography` package for AES-256-GCM and ChaCha20-Poly1305 (Debian:
python3-cryptography) and the zstd command. It tolerates missing or corrupt shards up to
the parity count.
"""
import base64, hashlib, io, json, os, struct, subprocess, sys, tarfile
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

HEADER = 52

def kdf(key, subkey_id, ctx):
    """libsodium crypto_kdf_derive_from_key: BLAKE2b keyed, empty message."""
    return hashlib.blake2b(b"", digest_size=32, key=key,
                           salt=struct.pack("<Q", subkey_id) + bytes(8),
                           person=ctx.encode() + bytes(8)).digest()

def hchacha20(key, nonce16):
    """The HChaCha20 subkey (RFC draft-irtf-cfrg-xchacha), for XChaCha20-Poly1305."""
    st = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574] + list(struct.unpack("<8L", key)) + list(struct.unpack("<4L", nonce16))
    def rotl(v, n): return ((v << n) | (v >> (32 - n))) & 0xffffffff
    def qr(a, b, c, d):
        st[a] = (st[a] + st[b]) & 0xffffffff; st[d] = rotl(st[d] ^ st[a], 16)
        st[c] = (st[c] + st[d]) & 0xffffffff; st[b] = rotl(st[b] ^ st[c], 12)
        st[a] = (st[a] + st[b]) & 0xffffffff; st[d] = rotl(st[d] ^ st[a], 8)
        st[c] = (st[c] + st[d]) & 0xffffffff; st[b] = rotl(st[b] ^ st[c], 7)
    for _ in range(10):
        qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
        qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
    return struct.pack("<8L", *(st[0:4] + st[12:16]))

def xchacha_open(key, sealed, ad):
    """XChaCha20-Poly1305 (libsodium's ietf variant): 24-byte nonce, then ciphertext and tag."""
    nonce, ct = sealed[:24], sealed[24:]
    return ChaCha20Poly1305(hchacha20(key, nonce[:16])).decrypt(bytes(4) + nonce[16:], ct, ad)

def keyring_authentic(key, ring):
    """The keyring file's MAC: keyed BLAKE2b-256 over its other members, compact sorted JSON."""
    if "mac" not in ring:
        return ring.get("format") == "leafguard-keyring-v1"  # written before keyrings had one
    body = json.dumps({k: v for k, v in ring.items() if k != "mac"}, sort_keys=True, separators=(",", ":")).encode()
    mac = hashlib.blake2b(body, digest_size=32, key=kdf(key, 3, "lgkring1")).hexdigest()
    return mac == ring["mac"]

def region_keyring(key, region_path):
    """The newest authentic `keyring` object among the region's locations, or None."""
    best = None
    for d in sorted(os.listdir(region_path)):
        try:
            ring = json.load(open(os.path.join(region_path, d, "keyring")))
        except Exception:
            continue
        if keyring_authentic(key, ring) and (best is None or ring.get("generation", 0) > best.get("generation", 0)):
            best = ring
    return best

def master_versions(key, keyring_file, region_path):
    """Version -> 32-byte master key: every version of the keyring, or the key alone (version 1)."""
    ring = json.load(open(keyring_file)) if keyring_file else region_keyring(key, region_path)
    if ring is None:
        return {1: key}
    if not keyring_authentic(key, ring):
        raise SystemExit("the keyring does not authenticate with this key")
    sealing = kdf(key, 2, "lgkring1")
    out = {}
    for v in ring["versions"]:
        if v.get("sealed"):
            out[v["version"]] = xchacha_open(sealing, base64.b64decode(v["sealed"]), f"leafguard keyring v{v['version']}".encode())
    return out

def header(obj):
    if obj[:4] != b"LGRD" or obj[4] != 1:
        raise ValueError("not a leafguard object")
    alg, kind, shard, k, m = obj[5], obj[6], obj[7], obj[8], obj[9]
    if alg != 1:
        raise ValueError("this script handles AES-256-GCM objects only")
    return dict(kind=kind, shard=shard, k=k, m=m, id=obj[12:28].hex(), key=obj[28:44],
                length=struct.unpack(">Q", obj[44:52])[0], nonce=obj[52:64], end=64)

def open_object(obj, key):
    h = header(obj)
    return h, AESGCM(key).decrypt(h["nonce"], obj[h["end"]:], obj[:h["end"]])

class Region:
    def __init__(self, path, masters):
        self.path = path
        self.locs = sorted((os.path.join(path, d) for d in os.listdir(path) if d.startswith("loc")),
                           key=lambda p: int(os.path.basename(p)[3:]))
        self.wraps = {v: kdf(k, 1, "lgkwrap1") for v, k in masters.items()}
        self.keys = {}
        self.sets_read = False

    def unwrap(self, obj):
        """Opens a data key (kind 4) or key set (kind 8) under the version its header names."""
        version = struct.unpack(">L", header(obj)["key"][:4])[0]
        if version not in self.wraps:
            raise ValueError(f"wrapped by master-key version {version}, which the region's keyring does not hold: give the keyring file")
        return open_object(obj, self.wraps[version])[1]

    def read_any(self, name, opener):
        why = "missing"
        for loc in self.locs:
            try:
                with open(os.path.join(loc, name), "rb") as f:
                    return opener(f.read())
            except Exception as e:
                why = str(e) or type(e).__name__
        raise SystemExit(f"{name}: no readable copy in any location ({why})")

    def data_key(self, key_id):
        if key_id not in self.keys and not self.sets_read:
            # Key sets: 49-byte entries of id (16), algorithm (1), key (32).
            self.sets_read = True
            for name in self.names("keys"):
                if name.startswith("set-"):
                    plain = self.read_any(f"keys/{name}", self.unwrap)
                    for i in range(0, len(plain), 49):
                        self.keys.setdefault(plain[i:i + 16], plain[i + 17:i + 49])
        if key_id not in self.keys:
            self.keys[key_id] = self.read_any(f"keys/{key_id.hex()}", self.unwrap)
        return self.keys[key_id]

    def manifest(self, name):
        def opener(b):
            return json.loads(open_object(b, self.data_key(header(b)["key"]))[1])
        return self.read_any(name, opener)

    def names(self, prefix):
        out = set()
        for loc in self.locs:
            d = os.path.join(loc, prefix)
            if os.path.isdir(d):
                out.update(n for n in os.listdir(d) if not n.startswith("."))
        return sorted(out)

# GF(2^8), polynomial 0x11d, as Intel ISA-L.
EXP, LOG = [0] * 512, [0] * 256
x = 1
for i in range(255):
    EXP[i], LOG[x] = x, i
    x <<= 1
    if x & 0x100:
        x ^= 0x11d
for i in range(255, 512):
    EXP[i] = EXP[i - 255]
def mul(a, b): return 0 if a == 0 or b == 0 else EXP[LOG[a] + LOG[b]]
def inv(a): return EXP[255 - LOG[a]]

def cauchy_row(r, k):
    return [1 if r == c else 0 for c in range(k)] if r < k else [inv(r ^ c) for c in range(k)]

def invert(mat):
    n = len(mat)
    a = [row[:] + [1 if i == j else 0 for j in range(n)] for i, row in enumerate(mat)]
    for c in range(n):
        p = next(r for r in range(c, n) if a[r][c])
        a[c], a[p] = a[p], a[c]
        iv = inv(a[c][c])
        a[c] = [mul(v, iv) for v in a[c]]
        for r in range(n):
            if r != c and a[r][c]:
                f = a[r][c]
                a[r] = [v ^ mul(f, w) for v, w in zip(a[r], a[c])]
    return [row[n:] for row in a]

def read_pack(region, p):
    k, m, key = p["data_shards"], p["parity_shards"], region.data_key(bytes.fromhex(p["data_key"]))
    shards = {}
    for i in range(k + m):
        if len(shards) == k:
            break
        name = os.path.join("data", p["id"][:2], f"{p['id']}.{i}")
        # The recorded location, else this region's own placement (another location count).
        count = 1 + max(int(os.path.basename(l)[3:]) for l in region.locs)
        paths = [os.path.join(region.path, f"loc{n}", name)
                 for n in (p["locations"][i], (int(p["id"][:2], 16) + i) % count)]
        try:
            with open(next((q for q in paths if os.path.exists(q)), paths[0]), "rb") as f:
                h, plain = open_object(f.read(), key)
            if h["id"] == p["id"] and h["shard"] == i and h["length"] == p["length"]:
                shards[i] = plain
        except Exception:
            pass  # missing or corrupt: rebuilt from the others
    if len(shards) < k:
        raise SystemExit(f"pack {p['id']}: only {len(shards)} of {k} needed shards are intact")
    if any(j not in shards for j in range(k)):
        use = sorted(shards)[:k]
        decode = invert([cauchy_row(r, k) for r in use])
        length = len(shards[use[0]])
        for j in range(k):
            if j not in shards:
                out = bytearray(length)
                for c, r in enumerate(use):
                    f = decode[j][c]
                    if f:
                        src = shards[r]
                        for b in range(length):
                            if src[b]:
                                out[b] ^= EXP[LOG[f] + LOG[src[b]]]
                shards[j] = bytes(out)
    pack = b"".join(shards[j] for j in range(k))[: p["length"]]
    if p["compressed"]:
        pack = subprocess.run(["zstd", "-d", "-c"], input=pack, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(pack), mode="r:") as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers()}

def main():
    args = sys.argv[1:]
    keyring = None
    if "--keyring" in args:
        i = args.index("--keyring")
        keyring = args[i + 1]
        del args[i:i + 2]
    region_path, key_file, out = args[:3]
    raw = open(key_file, "rb").read()
    master = raw if len(raw) == 32 else base64.b64decode(raw.strip())
    region = Region(region_path, master_versions(master, keyring, region_path))
    ids = region.names("snapshots")
    want = args[3] if len(args) > 3 else ids[-1]
    snap = region.manifest(f"snapshots/{next(i for i in ids if i.startswith(want))}")
    where = {}
    for name in region.names("index"):
        for p in region.manifest(f"index/{name}")["packs"]:
            for b in p["blobs"]:
                where.setdefault(b["id"], p)
    files = [snap["database"]] + snap["documents"]
    needed = {b for f in files for b in f["blobs"]}
    blobs = {}
    for pack in {where[b]["id"]: where[b] for b in needed}.values():
        for name, data in read_pack(region, pack).items():
            if name in needed:
                blobs[name] = data
    for f in files:
        data = b"".join(blobs[b] for b in f["blobs"])
        if hashlib.sha256(data).hexdigest() != f["sha256"]:
            raise SystemExit(f"{f['path']}: SHA-256 does not match the snapshot")
        path = os.path.join(out, f["path"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
    print(f"restored snapshot {snap['id'][:8]}: {len(files)} files into {out}")

if __name__ == "__main__":
    main()
