#!/usr/bin/env python3
"""Restore the newest snapshot of a leafguard region without leafguard.

    python3 docs/recover.py REGION_PATH MASTER_KEY_FILE OUT_DIR [SNAPSHOT_ID] [--keyring FILE]

MASTER_KEY_FILE is the key `keys.master` names (32 bytes or their base64), or the word
`kms` for an `aws-kms:` master key: the keyring's KMS ciphertext is then opened by AWS KMS
through boto3 (credentials as boto3 finds them; `AWS_ENDPOINT_URL_KMS` for another
endpoint; the region is the key ARN's). The keyring
(every master-key version, sealed under that key) is read from the region itself: the
`keyring` object in its locations, the newest copy whose MAC checks. `--keyring FILE`
uses a keyring file instead (STATE/keys/keyring.json).

"The newest snapshot" is chosen as leafguard chooses it: the newest one that a signed
region head (`heads/`, verified with the audit key the keyring keeps) accounts for. A
snapshot no head names may have been sealed by someone holding only a data key, with an id
far ahead; it is passed by, said, and restored only when named as SNAPSHOT_ID.

OUT_DIR must be absent or empty, and not a symbolic link. Every path comes from the
snapshot and is checked first (relative, no `.`, `..` or empty component); folders are
created 0700 and files 0600, each new (O_EXCL) and opened relative to its folder without
following a link, so nothing is written outside OUT_DIR.

An independent implementation of docs/format.md: Python's standard library, the
`cryptography` package for AES-256-GCM and ChaCha20-Poly1305 (Debian:
python3-cryptography) and the zstd command. It tolerates missing or corrupt shards up to
the parity count.
"""
import base64, hashlib, io, json, os, struct, subprocess, sys, tarfile
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
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

def kms_keyring_key(keyring_file, region_path):
    """The keyring key of an aws-kms: deployment: the newest keyring copy's KMS ciphertext,
    opened by KMS with its encryption context, and checked against that copy's MAC."""
    import boto3
    rings = []
    for path in [keyring_file] if keyring_file else [os.path.join(region_path, d, "keyring") for d in sorted(os.listdir(region_path))]:
        try:
            rings.append(json.load(open(path)))
        except Exception:
            continue
    for ring in sorted(rings, key=lambda r: r.get("generation", 0), reverse=True):
        wrapped = ring.get("kms")
        if not wrapped:
            continue
        arn = wrapped["keyId"]
        kms = boto3.client("kms", region_name=arn.split(":")[3] if arn.startswith("arn:") else os.environ.get("AWS_REGION"))
        key = kms.decrypt(CiphertextBlob=base64.b64decode(wrapped["ciphertext"]), KeyId=arn, EncryptionContext=wrapped["context"])["Plaintext"]
        if len(key) == 32 and keyring_authentic(key, ring):
            return key
    raise SystemExit("no keyring copy holds a KMS ciphertext that KMS opens into its key")

def master_versions(key, keyring_file, region_path):
    """(version -> 32-byte master key, audit seeds): every version of the keyring, or the
    key alone (version 1); the audit key's current seed first, then its earlier ones."""
    ring = json.load(open(keyring_file)) if keyring_file else region_keyring(key, region_path)
    if ring is None:
        return {1: key}, [kdf(key, 1, "lgaudit1")]
    if not keyring_authentic(key, ring):
        raise SystemExit("the keyring does not authenticate with this key")
    sealing = kdf(key, 2, "lgkring1")
    out = {}
    for v in ring["versions"]:
        if v.get("sealed"):
            out[v["version"]] = xchacha_open(sealing, base64.b64decode(v["sealed"]), f"leafguard keyring v{v['version']}".encode())
    seeds = [xchacha_open(sealing, base64.b64decode(ring["auditSeed"]), b"leafguard keyring audit seed")] if ring.get("auditSeed") \
        else [kdf(key, 1, "lgaudit1")]
    for text in reversed(ring.get("previousAuditSeeds") or []):
        seeds.append(xchacha_open(sealing, base64.b64decode(text), b"leafguard keyring previous audit seed"))
    return out, seeds

def audit_public_keys(seeds):
    """Ed25519 public keys of the audit seeds (libsodium's seed keypair is RFC 8032's)."""
    return [Ed25519PrivateKey.from_private_bytes(s).public_key() for s in seeds]

def signed_heads(region, public_keys, repository):
    """region name -> the newest authentic head of that region this region's locations hold:
    two lines (JSON, hex Ed25519 signature of exactly that JSON), whose JSON names the
    object it is stored as and the repository."""
    newest = {}
    for loc in region.locs:
        d = os.path.join(loc, "heads")
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            try:
                with open(os.path.join(d, name), "rb") as f:
                    data = f.read(1 << 20)
                body, sig = data.split(b"\n")[:2]
                if not any(verifies(k, bytes.fromhex(sig.decode()), body) for k in public_keys):
                    continue
                h = json.loads(body)
                if h.get("format") != "leafguard-region-head-v1" or h.get("repository") != repository:
                    continue
                if name != "%s-%016d" % (h["region"], h["sequence"]):
                    continue
                if h["region"] not in newest or h["sequence"] > newest[h["region"]]["sequence"]:
                    newest[h["region"]] = h
            except Exception:
                continue
    return newest

def verifies(public_key, signature, message):
    try:
        public_key.verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False

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

def check_path(path):
    """A path from a snapshot: relative, no empty, `.` or `..` component, no NUL."""
    parts = path.split("/")
    if not path or path.startswith("/") or "\0" in path or any(p in ("", ".", "..") for p in parts):
        raise SystemExit(f"the snapshot names the path {path!r}, which could land outside OUT_DIR: it is damaged or forged; nothing was written")
    return parts

def open_out_dir(out):
    """OUT_DIR as a descriptor: refused when it is a link, not a folder, or not empty."""
    if os.path.islink(out):
        raise SystemExit(f"{out} is a symbolic link; name a real folder")
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise SystemExit(f"{out} exists and is not a folder")
        if os.listdir(out):
            raise SystemExit(f"{out} is not empty; recover into an empty or new folder")
    else:
        os.makedirs(out, mode=0o700)
    return os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)

def write_file(root_fd, parts, data):
    """Writes data at parts below root_fd: folders 0700, the file new and 0600, nothing followed."""
    fds = [root_fd]
    try:
        for part in parts[:-1]:
            try:
                os.mkdir(part, 0o700, dir_fd=fds[-1])
            except FileExistsError:
                pass
            fds.append(os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fds[-1]))
        fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=fds[-1])
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    finally:
        for fd in fds[1:]:
            os.close(fd)

def main():
    os.umask(0o077)
    args = sys.argv[1:]
    keyring = None
    if "--keyring" in args:
        i = args.index("--keyring")
        keyring = args[i + 1]
        del args[i:i + 2]
    region_path, key_file, out = args[:3]
    if key_file == "kms":
        master = kms_keyring_key(keyring, region_path)
    else:
        raw = open(key_file, "rb").read()
        master = raw if len(raw) == 32 else base64.b64decode(raw.strip())
    masters, audit_seeds = master_versions(master, keyring, region_path)
    region = Region(region_path, masters)
    ids = region.names("snapshots")
    if len(args) > 3:
        matches = [i for i in ids if i.startswith(args[3].lower())]
        if len(matches) != 1:
            raise SystemExit(f"{args[3]!r} matches {len(matches)} snapshots")
        chosen = matches[0]
    else:
        repository = region.read_any("config", header)["id"]
        heads = signed_heads(region, audit_public_keys(audit_seeds), repository)
        if not heads and region.names("heads"):
            raise SystemExit("no signed region head authenticates with this key: name the snapshot to restore as SNAPSHOT_ID")
        # With no head at all (a repository no leafguard command has finished in yet) every
        # snapshot counts, as in leafguard.
        accounted = set().union(*(h["snapshots"] for h in heads.values())) if heads else set(ids)
        unaccounted = [i for i in ids if i not in accounted]
        if unaccounted:
            print(f"passed by {len(unaccounted)} snapshot(s) no signed head accounts for: {', '.join(unaccounted)}", file=sys.stderr)
        candidates = [i for i in ids if i in accounted]
        if not candidates:
            raise SystemExit("no snapshot of the region is accounted for by a signed head")
        chosen = candidates[-1]
    snap = region.manifest(f"snapshots/{chosen}")
    where = {}
    for name in region.names("index"):
        for p in region.manifest(f"index/{name}")["packs"]:
            for b in p["blobs"]:
                where.setdefault(b["id"], p)
    files = [snap["database"]] + snap["documents"]
    paths = [check_path(f["path"]) for f in files]
    root = open_out_dir(out)
    needed = {b for f in files for b in f["blobs"]}
    blobs = {}
    for pack in {where[b]["id"]: where[b] for b in needed}.values():
        for name, data in read_pack(region, pack).items():
            if name in needed:
                blobs[name] = data
    for f, parts in zip(files, paths):
        data = b"".join(blobs[b] for b in f["blobs"])
        if hashlib.sha256(data).hexdigest() != f["sha256"]:
            raise SystemExit(f"{f['path']}: SHA-256 does not match the snapshot")
        write_file(root, parts, data)
    os.close(root)
    print(f"restored snapshot {snap['id'][:8]}: {len(files)} files into {out}")

if __name__ == "__main__":
    main()
