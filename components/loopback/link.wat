;; The loopback transport's core module: two endpoints, their counters and traffic digest,
;; and the link's seeded fault model, in WebAssembly text (no language runtime).
;;
;; The builder (harness/build/transport.py) splices this module into loopback.wat, the
;; component that lifts its exports to the `loopback` world of wit/pase.wit with the
;; canonical ABI (component-model CanonicalABI.md: flat parameters, results through a
;; return area, lists lowered through `cabi_realloc`). The test suite also compiles it as a
;; plain core module to check SHA-256, HMAC-SHA256 and HMAC-DRBG against Python's.
;;
;; Semantics (identical to the host's model in harness/seams/linkfaults.py):
;; - a datagram sent on one endpoint is received on the other; a queue refuses a datagram
;;   when QUEUE_LIMIT (256) are waiting for its endpoint (queued, in flight or held) or it
;;   is longer than MAX_DATAGRAM (1280 bytes), and counts it as dropped;
;; - packets and bytes are counted per direction, and a running SHA-256 (FIPS 180-4) over
;;   every accepted datagram, framed as direction byte (1 = A to B, 2 = B to A), u32
;;   little-endian length, bytes;
;; - once configured, every send goes through the fault model: HMAC-DRBG with SHA-256
;;   (NIST SP 800-90A Rev. 1, section 10.1.2; HMAC per RFC 2104), entropy input = the seed,
;;   personalization "faults", no reseeding; one 24-byte Generate per send read as six
;;   big-endian u32 draws u0..u5; a rate r fires when u < floor(r * 2^32). Order: drop (u0;
;;   nothing else applies), corrupt (u1: XOR the byte at u2 mod len with 1 + u3 mod 255),
;;   duplicate (u4), reorder (u5: held until the next datagram in that direction is
;;   delivered, or 1000 ms after it was sent), delay (every datagram not dropped is
;;   delivered delay-ms after it was sent, or after it is released).
;;
;; Nothing here traps on any input the component model can deliver: refusals are results.
;;
;; Memory map (bytes):
;;     16  return area (48)              96  the bytes 0x00, 0x01
;;    128  digest framing (5)           160  traffic digest out (32)
;;    192  DRBG output block (32)       224  HMAC inner digest (32)
;;    256  DRBG K (32)                  288  DRBG V (32)
;;    320  HMAC key block (64)          384  HMAC pad (64)
;;    448  SHA-256 message schedule W (256)
;;    704  SHA-256 round constants K (256)   960  SHA-256 initial hash value (32)
;;   1024  SHA-256 context: traffic digest (128: H 32, block 64, length u64 @96, fill @104)
;;   1152  SHA-256 context: scratch copy of the traffic digest (128)
;;   1280  SHA-256 context: HMAC (128)
;;   1408  loopback-counters record (48)    1472  fault-counters record (48)
;;   1536  error message buffer (256)
;;   1792  per-direction state (i32 each, direction d at +4d): ready head 1792, ready count
;;         1800, in-flight count 1808, held groups 1816, held copies 1824
;;   2048  constant strings; 2400 digits of a refused rate (17), 2420 "0.0"
;;   4096  ready rings: 2 x 512 slot numbers (d at 4096 + 2048 d)
;;   8192  in flight: 2 x 512 x (release u64, seq u64, slot i32, pad) (d at 8192 + 12288 d)
;;  32768  held groups: 2 x 512 x (deadline u64, slot i32, second slot i32 or -1)
;;  49152  slot lengths (520 x i32)      51232  free slot stack (520 x i32)
;;  65536  fault event log: 4096 x 40-byte fault-event records (the lifted layout)
;; 229376  receive buffer (1280)
;; 231424  datagram slots: 520 x 1280 (each direction holds at most 257 copies)
;; 917504  heap for cabi_realloc (parameters being lowered; reset after every call)
(module $link
  (import "clock" "now-ms" (func $now_ms (result i64)))
  (memory (export "memory") 15)

  (global $heap_base i32 (i32.const 917504))
  (global $bump (mut i32) (i32.const 917504))
  (global $fresh (mut i32) (i32.const 0))
  (global $free_top (mut i32) (i32.const 0))
  (global $configured (mut i32) (i32.const 0))
  (global $empty (mut i32) (i32.const 0))
  (global $calmed (mut i32) (i32.const 0))
  (global $log_count (mut i32) (i32.const 0))
  (global $seq (mut i64) (i64.const 0))
  (global $sends (mut i64) (i64.const 0))
  (global $delay (mut i64) (i64.const 0))
  (global $thr_drop (mut i64) (i64.const 0))
  (global $thr_corrupt (mut i64) (i64.const 0))
  (global $thr_duplicate (mut i64) (i64.const 0))
  (global $thr_reorder (mut i64) (i64.const 0))

  (data (i32.const 97) "\01")
  ;; SHA-256 round constants (FIPS 180-4, section 4.2.2), little-endian words.
  (data (i32.const 704)
    "\98\2f\8a\42\91\44\37\71\cf\fb\c0\b5\a5\db\b5\e9\5b\c2\56\39\f1\11\f1\59\a4\82\3f\92\d5\5e\1c\ab"
    "\98\aa\07\d8\01\5b\83\12\be\85\31\24\c3\7d\0c\55\74\5d\be\72\fe\b1\de\80\a7\06\dc\9b\74\f1\9b\c1"
    "\c1\69\9b\e4\86\47\be\ef\c6\9d\c1\0f\cc\a1\0c\24\6f\2c\e9\2d\aa\84\74\4a\dc\a9\b0\5c\da\88\f9\76"
    "\52\51\3e\98\6d\c6\31\a8\c8\27\03\b0\c7\7f\59\bf\f3\0b\e0\c6\47\91\a7\d5\51\63\ca\06\67\29\29\14"
    "\85\0a\b7\27\38\21\1b\2e\fc\6d\2c\4d\13\0d\38\53\54\73\0a\65\bb\0a\6a\76\2e\c9\c2\81\85\2c\72\92"
    "\a1\e8\bf\a2\4b\66\1a\a8\70\8b\4b\c2\a3\51\6c\c7\19\e8\92\d1\24\06\99\d6\85\35\0e\f4\70\a0\6a\10"
    "\16\c1\a4\19\08\6c\37\1e\4c\77\48\27\b5\bc\b0\34\b3\0c\1c\39\4a\aa\d8\4e\4f\ca\9c\5b\f3\6f\2e\68"
    "\ee\82\8f\74\6f\63\a5\78\14\78\c8\84\08\02\c7\8c\fa\ff\be\90\eb\6c\50\a4\f7\a3\f9\be\f2\78\71\c6")
  ;; SHA-256 initial hash value (FIPS 180-4, section 5.3.3), little-endian words; the
  ;; traffic digest's context starts from it too.
  (data (i32.const 960)
    "\67\e6\09\6a\85\ae\67\bb\72\f3\6e\3c\3a\f5\4f\a5\7f\52\0e\51\8c\68\05\9b\ab\d9\83\1f\19\cd\e0\5b")
  (data (i32.const 1024)
    "\67\e6\09\6a\85\ae\67\bb\72\f3\6e\3c\3a\f5\4f\a5\7f\52\0e\51\8c\68\05\9b\ab\d9\83\1f\19\cd\e0\5b")
  (data (i32.const 2048) "fault rate ")
  (data (i32.const 2064) "drop")
  (data (i32.const 2072) "corrupt")
  (data (i32.const 2080) "duplicate")
  (data (i32.const 2096) "reorder")
  (data (i32.const 2112) " is outside 0..1")
  (data (i32.const 2128) "fault delay=")
  (data (i32.const 2144) " ms is outside 0..3600000")
  (data (i32.const 2176) "the link's faults are already configured")
  (data (i32.const 2224) "configure the link's faults before any datagram is sent")
  (data (i32.const 2288) "faults")
  (data (i32.const 2296) "nan\00inf")
  (data (i32.const 2420) "0.0")
  ;; The rate names (pointer, length), in the order of fault-plan's fields.
  (data (i32.const 2304)
    "\10\08\00\00\04\00\00\00\18\08\00\00\07\00\00\00"
    "\20\08\00\00\09\00\00\00\30\08\00\00\07\00\00\00")

  ;; ------------------------------------------------------------------ SHA-256 (FIPS 180-4)

  (func $bswap32 (param $x i32) (result i32)
    (i32.or (i32.rotl (i32.and (local.get $x) (i32.const 0xff00ff00)) (i32.const 8))
            (i32.rotr (i32.and (local.get $x) (i32.const 0x00ff00ff)) (i32.const 8))))

  ;; Section 6.2.2: one 64-byte block at $blk into the hash value at $ctx.
  (func $compress (param $ctx i32) (param $blk i32)
    (local $i i32) (local $w i32) (local $x i32) (local $t1 i32) (local $t2 i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32)
    (local $e i32) (local $f i32) (local $g i32) (local $h i32)
    (loop $load
      (i32.store (i32.add (i32.const 448) (i32.shl (local.get $i) (i32.const 2)))
        (call $bswap32 (i32.load (i32.add (local.get $blk) (i32.shl (local.get $i) (i32.const 2))))))
      (br_if $load (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 16))))
    (loop $expand
      (local.set $w (i32.add (i32.const 448) (i32.shl (local.get $i) (i32.const 2))))
      (local.set $x (i32.load (i32.sub (local.get $w) (i32.const 60))))
      (local.set $t1
        (i32.xor (i32.xor (i32.rotr (local.get $x) (i32.const 7)) (i32.rotr (local.get $x) (i32.const 18)))
                 (i32.shr_u (local.get $x) (i32.const 3))))
      (local.set $x (i32.load (i32.sub (local.get $w) (i32.const 8))))
      (local.set $t2
        (i32.xor (i32.xor (i32.rotr (local.get $x) (i32.const 17)) (i32.rotr (local.get $x) (i32.const 19)))
                 (i32.shr_u (local.get $x) (i32.const 10))))
      (i32.store (local.get $w)
        (i32.add (i32.add (i32.load (i32.sub (local.get $w) (i32.const 64))) (local.get $t1))
                 (i32.add (i32.load (i32.sub (local.get $w) (i32.const 28))) (local.get $t2))))
      (br_if $expand (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 64))))
    (local.set $a (i32.load offset=0 (local.get $ctx)))
    (local.set $b (i32.load offset=4 (local.get $ctx)))
    (local.set $c (i32.load offset=8 (local.get $ctx)))
    (local.set $d (i32.load offset=12 (local.get $ctx)))
    (local.set $e (i32.load offset=16 (local.get $ctx)))
    (local.set $f (i32.load offset=20 (local.get $ctx)))
    (local.set $g (i32.load offset=24 (local.get $ctx)))
    (local.set $h (i32.load offset=28 (local.get $ctx)))
    (local.set $i (i32.const 0))
    (loop $round
      ;; T1 = h + S1(e) + Ch(e, f, g) + K[i] + W[i]
      (local.set $t1
        (i32.add
          (i32.add (local.get $h)
            (i32.xor (i32.xor (i32.rotr (local.get $e) (i32.const 6)) (i32.rotr (local.get $e) (i32.const 11)))
                     (i32.rotr (local.get $e) (i32.const 25))))
          (i32.add
            (i32.xor (i32.and (local.get $e) (local.get $f))
                     (i32.and (i32.xor (local.get $e) (i32.const -1)) (local.get $g)))
            (i32.add (i32.load (i32.add (i32.const 704) (i32.shl (local.get $i) (i32.const 2))))
                     (i32.load (i32.add (i32.const 448) (i32.shl (local.get $i) (i32.const 2))))))))
      ;; T2 = S0(a) + Maj(a, b, c)
      (local.set $t2
        (i32.add
          (i32.xor (i32.xor (i32.rotr (local.get $a) (i32.const 2)) (i32.rotr (local.get $a) (i32.const 13)))
                   (i32.rotr (local.get $a) (i32.const 22)))
          (i32.xor (i32.xor (i32.and (local.get $a) (local.get $b)) (i32.and (local.get $a) (local.get $c)))
                   (i32.and (local.get $b) (local.get $c)))))
      (local.set $h (local.get $g))
      (local.set $g (local.get $f))
      (local.set $f (local.get $e))
      (local.set $e (i32.add (local.get $d) (local.get $t1)))
      (local.set $d (local.get $c))
      (local.set $c (local.get $b))
      (local.set $b (local.get $a))
      (local.set $a (i32.add (local.get $t1) (local.get $t2)))
      (br_if $round (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 64))))
    (i32.store offset=0 (local.get $ctx) (i32.add (i32.load offset=0 (local.get $ctx)) (local.get $a)))
    (i32.store offset=4 (local.get $ctx) (i32.add (i32.load offset=4 (local.get $ctx)) (local.get $b)))
    (i32.store offset=8 (local.get $ctx) (i32.add (i32.load offset=8 (local.get $ctx)) (local.get $c)))
    (i32.store offset=12 (local.get $ctx) (i32.add (i32.load offset=12 (local.get $ctx)) (local.get $d)))
    (i32.store offset=16 (local.get $ctx) (i32.add (i32.load offset=16 (local.get $ctx)) (local.get $e)))
    (i32.store offset=20 (local.get $ctx) (i32.add (i32.load offset=20 (local.get $ctx)) (local.get $f)))
    (i32.store offset=24 (local.get $ctx) (i32.add (i32.load offset=24 (local.get $ctx)) (local.get $g)))
    (i32.store offset=28 (local.get $ctx) (i32.add (i32.load offset=28 (local.get $ctx)) (local.get $h))))

  (func $sha_init (param $ctx i32)
    (memory.copy (local.get $ctx) (i32.const 960) (i32.const 32))
    (i64.store offset=96 (local.get $ctx) (i64.const 0))
    (i32.store offset=104 (local.get $ctx) (i32.const 0)))

  (func $sha_update (param $ctx i32) (param $p i32) (param $n i32)
    (local $fill i32) (local $take i32)
    (i64.store offset=96 (local.get $ctx)
      (i64.add (i64.load offset=96 (local.get $ctx)) (i64.extend_i32_u (local.get $n))))
    (local.set $fill (i32.load offset=104 (local.get $ctx)))
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $take (i32.sub (i32.const 64) (local.get $fill)))
        (if (i32.lt_u (local.get $n) (local.get $take)) (then (local.set $take (local.get $n))))
        (memory.copy (i32.add (i32.add (local.get $ctx) (i32.const 32)) (local.get $fill))
                     (local.get $p) (local.get $take))
        (local.set $fill (i32.add (local.get $fill) (local.get $take)))
        (local.set $p (i32.add (local.get $p) (local.get $take)))
        (local.set $n (i32.sub (local.get $n) (local.get $take)))
        (if (i32.eq (local.get $fill) (i32.const 64))
          (then
            (call $compress (local.get $ctx) (i32.add (local.get $ctx) (i32.const 32)))
            (local.set $fill (i32.const 0))))
        (br $more)))
    (i32.store offset=104 (local.get $ctx) (local.get $fill)))

  ;; Section 5.1.1 padding, then the hash value big-endian into $out (32 bytes).
  (func $sha_final (param $ctx i32) (param $out i32)
    (local $fill i32) (local $bits i64) (local $i i32)
    (local.set $bits (i64.shl (i64.load offset=96 (local.get $ctx)) (i64.const 3)))
    (local.set $fill (i32.load offset=104 (local.get $ctx)))
    (i32.store8 offset=32 (i32.add (local.get $ctx) (local.get $fill)) (i32.const 0x80))
    (local.set $fill (i32.add (local.get $fill) (i32.const 1)))
    (if (i32.gt_u (local.get $fill) (i32.const 56))
      (then
        (memory.fill (i32.add (i32.add (local.get $ctx) (i32.const 32)) (local.get $fill))
                     (i32.const 0) (i32.sub (i32.const 64) (local.get $fill)))
        (call $compress (local.get $ctx) (i32.add (local.get $ctx) (i32.const 32)))
        (local.set $fill (i32.const 0))))
    (memory.fill (i32.add (i32.add (local.get $ctx) (i32.const 32)) (local.get $fill))
                 (i32.const 0) (i32.sub (i32.const 56) (local.get $fill)))
    (i32.store offset=88 (local.get $ctx)
      (call $bswap32 (i32.wrap_i64 (i64.shr_u (local.get $bits) (i64.const 32)))))
    (i32.store offset=92 (local.get $ctx) (call $bswap32 (i32.wrap_i64 (local.get $bits))))
    (call $compress (local.get $ctx) (i32.add (local.get $ctx) (i32.const 32)))
    (loop $word
      (i32.store (i32.add (local.get $out) (local.get $i))
        (call $bswap32 (i32.load (i32.add (local.get $ctx) (local.get $i)))))
      (br_if $word (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 4))) (i32.const 32)))))

  ;; -------------------------------------------------------- HMAC-SHA256 (RFC 2104, section 2)

  ;; The key block XOR $byte into the pad.
  (func $pad (param $byte i32)
    (local $i i32)
    (loop $each
      (i32.store8 (i32.add (i32.const 384) (local.get $i))
        (i32.xor (i32.load8_u (i32.add (i32.const 320) (local.get $i))) (local.get $byte)))
      (br_if $each (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 64)))))

  (func $hmac_init (param $key i32) (param $len i32)
    (memory.fill (i32.const 320) (i32.const 0) (i32.const 64))
    (if (i32.gt_u (local.get $len) (i32.const 64))
      (then
        (call $sha_init (i32.const 1280))
        (call $sha_update (i32.const 1280) (local.get $key) (local.get $len))
        (call $sha_final (i32.const 1280) (i32.const 320)))
      (else (memory.copy (i32.const 320) (local.get $key) (local.get $len))))
    (call $pad (i32.const 0x36))
    (call $sha_init (i32.const 1280))
    (call $sha_update (i32.const 1280) (i32.const 384) (i32.const 64)))

  (func $hmac_update (param $p i32) (param $n i32)
    (call $sha_update (i32.const 1280) (local.get $p) (local.get $n)))

  (func $hmac_final (param $out i32)
    (call $sha_final (i32.const 1280) (i32.const 224))
    (call $pad (i32.const 0x5c))
    (call $sha_init (i32.const 1280))
    (call $sha_update (i32.const 1280) (i32.const 384) (i32.const 64))
    (call $sha_update (i32.const 1280) (i32.const 224) (i32.const 32))
    (call $sha_final (i32.const 1280) (local.get $out)))

  ;; ------------------------------------ HMAC-DRBG (NIST SP 800-90A Rev. 1, section 10.1.2)

  ;; HMAC_DRBG_Update with provided data $p1 || $p2 (section 10.1.2.2).
  (func $drbg_update (param $p1 i32) (param $n1 i32) (param $p2 i32) (param $n2 i32)
    (local $round i32)
    (loop $again
      ;; K = HMAC(K, V || round byte || provided); V = HMAC(K, V)
      (call $hmac_init (i32.const 256) (i32.const 32))
      (call $hmac_update (i32.const 288) (i32.const 32))
      (call $hmac_update (i32.add (i32.const 96) (local.get $round)) (i32.const 1))
      (call $hmac_update (local.get $p1) (local.get $n1))
      (call $hmac_update (local.get $p2) (local.get $n2))
      (call $hmac_final (i32.const 256))
      (call $hmac_init (i32.const 256) (i32.const 32))
      (call $hmac_update (i32.const 288) (i32.const 32))
      (call $hmac_final (i32.const 288))
      ;; The second round only with provided data.
      (if (i32.or (local.get $round) (i32.eqz (i32.add (local.get $n1) (local.get $n2))))
        (then (return)))
      (local.set $round (i32.const 1))
      (br $again)))

  ;; Instantiate (section 10.1.2.3): entropy input = the seed, personalization "faults".
  (func $drbg_instantiate (param $seed i32) (param $len i32)
    (memory.fill (i32.const 256) (i32.const 0) (i32.const 32))
    (memory.fill (i32.const 288) (i32.const 1) (i32.const 32))
    (call $drbg_update (local.get $seed) (local.get $len) (i32.const 2288) (i32.const 6)))

  ;; Generate 24 bytes into 192 (section 10.1.2.5: one V, then Update with no input).
  (func $drbg_generate24
    (call $hmac_init (i32.const 256) (i32.const 32))
    (call $hmac_update (i32.const 288) (i32.const 32))
    (call $hmac_final (i32.const 288))
    (memory.copy (i32.const 192) (i32.const 288) (i32.const 24))
    (call $drbg_update (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))

  ;; --------------------------------------------------------------- datagram slots and queues

  (func $slot_addr (param $s i32) (result i32)
    (i32.add (i32.const 231424) (i32.mul (local.get $s) (i32.const 1280))))

  ;; A slot holding a copy of $len bytes at $src. At most 257 copies wait per direction
  ;; (the queue limit plus a duplicate), so 520 slots never run out.
  (func $slot_new (param $src i32) (param $len i32) (result i32)
    (local $s i32)
    (if (global.get $free_top)
      (then
        (global.set $free_top (i32.sub (global.get $free_top) (i32.const 1)))
        (local.set $s (i32.load (i32.add (i32.const 51232) (i32.shl (global.get $free_top) (i32.const 2))))))
      (else
        (if (i32.ge_u (global.get $fresh) (i32.const 520)) (then (unreachable)))
        (local.set $s (global.get $fresh))
        (global.set $fresh (i32.add (global.get $fresh) (i32.const 1)))))
    (memory.copy (call $slot_addr (local.get $s)) (local.get $src) (local.get $len))
    (i32.store (i32.add (i32.const 49152) (i32.shl (local.get $s) (i32.const 2))) (local.get $len))
    (local.get $s))

  (func $slot_len (param $s i32) (result i32)
    (i32.load (i32.add (i32.const 49152) (i32.shl (local.get $s) (i32.const 2)))))

  (func $slot_free (param $s i32)
    (i32.store (i32.add (i32.const 51232) (i32.shl (global.get $free_top) (i32.const 2))) (local.get $s))
    (global.set $free_top (i32.add (global.get $free_top) (i32.const 1))))

  ;; The address of direction $d's field of the per-direction state at $base.
  (func $state (param $base i32) (param $d i32) (result i32)
    (i32.add (local.get $base) (i32.shl (local.get $d) (i32.const 2))))

  (func $ready_push (param $d i32) (param $s i32)
    (local $count i32)
    (local.set $count (i32.load (call $state (i32.const 1800) (local.get $d))))
    (i32.store
      (i32.add (i32.add (i32.const 4096) (i32.mul (local.get $d) (i32.const 2048)))
        (i32.shl (i32.and (i32.add (i32.load (call $state (i32.const 1792) (local.get $d))) (local.get $count))
                          (i32.const 511))
                 (i32.const 2)))
      (local.get $s))
    (i32.store (call $state (i32.const 1800) (local.get $d)) (i32.add (local.get $count) (i32.const 1))))

  ;; The oldest ready slot of direction $d, or -1.
  (func $ready_pop (param $d i32) (result i32)
    (local $head i32) (local $count i32)
    (local.set $count (i32.load (call $state (i32.const 1800) (local.get $d))))
    (if (i32.eqz (local.get $count)) (then (return (i32.const -1))))
    (local.set $head (i32.load (call $state (i32.const 1792) (local.get $d))))
    (i32.store (call $state (i32.const 1800) (local.get $d)) (i32.sub (local.get $count) (i32.const 1)))
    (i32.store (call $state (i32.const 1792) (local.get $d))
      (i32.and (i32.add (local.get $head) (i32.const 1)) (i32.const 511)))
    (i32.load
      (i32.add (i32.add (i32.const 4096) (i32.mul (local.get $d) (i32.const 2048)))
               (i32.shl (local.get $head) (i32.const 2)))))

  ;; Datagrams waiting for the endpoint that direction $d delivers to: ready, in flight, held.
  (func $waiting (param $d i32) (result i32)
    (i32.add (i32.load (call $state (i32.const 1800) (local.get $d)))
      (i32.add (i32.load (call $state (i32.const 1808) (local.get $d)))
               (i32.load (call $state (i32.const 1824) (local.get $d))))))

  (func $flight_entry (param $d i32) (param $i i32) (result i32)
    (i32.add (i32.add (i32.const 8192) (i32.mul (local.get $d) (i32.const 12288)))
             (i32.mul (local.get $i) (i32.const 24))))

  (func $held_entry (param $d i32) (param $i i32) (result i32)
    (i32.add (i32.add (i32.const 32768) (i32.mul (local.get $d) (i32.const 8192)))
             (i32.shl (local.get $i) (i32.const 4))))

  ;; Put slot $s (and $s2 unless it is -1) in flight in direction $d until $release.
  (func $schedule (param $d i32) (param $s i32) (param $s2 i32) (param $release i64)
    (local $count i32) (local $e i32)
    (local.set $count (i32.load (call $state (i32.const 1808) (local.get $d))))
    (local.set $e (call $flight_entry (local.get $d) (local.get $count)))
    (i64.store offset=0 (local.get $e) (local.get $release))
    (i64.store offset=8 (local.get $e) (global.get $seq))
    (i32.store offset=16 (local.get $e) (local.get $s))
    (global.set $seq (i64.add (global.get $seq) (i64.const 1)))
    (i32.store (call $state (i32.const 1808) (local.get $d)) (i32.add (local.get $count) (i32.const 1)))
    (if (i32.ge_s (local.get $s2) (i32.const 0))
      (then (call $schedule (local.get $d) (local.get $s2) (i32.const -1) (local.get $release)))))

  (func $held_push (param $d i32) (param $deadline i64) (param $s i32) (param $s2 i32)
    (local $count i32) (local $e i32)
    (local.set $count (i32.load (call $state (i32.const 1816) (local.get $d))))
    (local.set $e (call $held_entry (local.get $d) (local.get $count)))
    (i64.store offset=0 (local.get $e) (local.get $deadline))
    (i32.store offset=8 (local.get $e) (local.get $s))
    (i32.store offset=12 (local.get $e) (local.get $s2))
    (i32.store (call $state (i32.const 1816) (local.get $d)) (i32.add (local.get $count) (i32.const 1)))
    (i32.store (call $state (i32.const 1824) (local.get $d))
      (i32.add (i32.load (call $state (i32.const 1824) (local.get $d)))
               (select (i32.const 2) (i32.const 1) (i32.ge_s (local.get $s2) (i32.const 0))))))

  ;; Held groups whose hold ran out by $now go in flight, delay-ms after their deadline.
  (func $expire (param $d i32) (param $now i64)
    (local $count i32) (local $e i32) (local $deadline i64) (local $s i32) (local $s2 i32)
    (block $done
      (loop $next
        (local.set $count (i32.load (call $state (i32.const 1816) (local.get $d))))
        (br_if $done (i32.eqz (local.get $count)))
        (local.set $e (call $held_entry (local.get $d) (i32.const 0)))
        (local.set $deadline (i64.load offset=0 (local.get $e)))
        (br_if $done (i64.gt_u (local.get $deadline) (local.get $now)))
        (local.set $s (i32.load offset=8 (local.get $e)))
        (local.set $s2 (i32.load offset=12 (local.get $e)))
        (memory.copy (local.get $e) (i32.add (local.get $e) (i32.const 16))
                     (i32.shl (i32.sub (local.get $count) (i32.const 1)) (i32.const 4)))
        (i32.store (call $state (i32.const 1816) (local.get $d)) (i32.sub (local.get $count) (i32.const 1)))
        (i32.store (call $state (i32.const 1824) (local.get $d))
          (i32.sub (i32.load (call $state (i32.const 1824) (local.get $d)))
                   (select (i32.const 2) (i32.const 1) (i32.ge_s (local.get $s2) (i32.const 0)))))
        (call $schedule (local.get $d) (local.get $s) (local.get $s2)
                        (i64.add (local.get $deadline) (global.get $delay)))
        (br $next))))

  ;; Deliver $s (and $s2) at $release, releasing every held group with them.
  (func $deliver (param $d i32) (param $s i32) (param $s2 i32) (param $release i64)
    (local $i i32) (local $count i32) (local $e i32)
    (call $schedule (local.get $d) (local.get $s) (local.get $s2) (local.get $release))
    (local.set $count (i32.load (call $state (i32.const 1816) (local.get $d))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $e (call $held_entry (local.get $d) (local.get $i)))
        (call $schedule (local.get $d) (i32.load offset=8 (local.get $e))
                        (i32.load offset=12 (local.get $e)) (local.get $release))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.store (call $state (i32.const 1816) (local.get $d)) (i32.const 0))
    (i32.store (call $state (i32.const 1824) (local.get $d)) (i32.const 0)))

  ;; Move what is due by $now in direction $d to its ready queue, in (release, seq) order.
  (func $due (param $d i32) (param $now i64)
    (local $count i32) (local $i i32) (local $best i32) (local $e i32) (local $b i32)
    (call $expire (local.get $d) (local.get $now))
    (block $done
      (loop $pick
        (local.set $count (i32.load (call $state (i32.const 1808) (local.get $d))))
        (local.set $best (i32.const -1))
        (local.set $i (i32.const 0))
        (block $scanned
          (loop $scan
            (br_if $scanned (i32.ge_u (local.get $i) (local.get $count)))
            (local.set $e (call $flight_entry (local.get $d) (local.get $i)))
            (if (i64.le_u (i64.load offset=0 (local.get $e)) (local.get $now))
              (then
                (if (i32.lt_s (local.get $best) (i32.const 0))
                  (then (local.set $best (local.get $i)))
                  (else
                    (local.set $b (call $flight_entry (local.get $d) (local.get $best)))
                    (if (i32.or
                          (i64.lt_u (i64.load offset=0 (local.get $e)) (i64.load offset=0 (local.get $b)))
                          (i32.and
                            (i64.eq (i64.load offset=0 (local.get $e)) (i64.load offset=0 (local.get $b)))
                            (i64.lt_u (i64.load offset=8 (local.get $e)) (i64.load offset=8 (local.get $b)))))
                      (then (local.set $best (local.get $i))))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $scan)))
        (br_if $done (i32.lt_s (local.get $best) (i32.const 0)))
        (local.set $b (call $flight_entry (local.get $d) (local.get $best)))
        (call $ready_push (local.get $d) (i32.load offset=16 (local.get $b)))
        ;; The last entry takes the freed place (the order of the entries does not matter).
        (memory.copy (local.get $b)
                     (call $flight_entry (local.get $d) (i32.sub (local.get $count) (i32.const 1)))
                     (i32.const 24))
        (i32.store (call $state (i32.const 1808) (local.get $d)) (i32.sub (local.get $count) (i32.const 1)))
        (br $pick))))

  ;; ------------------------------------------------------------------------- the fault model

  ;; Count a fault of $kind (fault-kind's case index) and log it while the log has room.
  (func $record (param $index i64) (param $d i32) (param $now i64) (param $kind i32) (param $detail i64)
    (local $e i32)
    (i64.store (i32.add (i32.const 1472) (i32.shl (local.get $kind) (i32.const 3)))
      (i64.add (i64.load (i32.add (i32.const 1472) (i32.shl (local.get $kind) (i32.const 3)))) (i64.const 1)))
    (if (i32.lt_u (global.get $log_count) (i32.const 4096))
      (then
        (local.set $e (i32.add (i32.const 65536) (i32.mul (global.get $log_count) (i32.const 40))))
        (i64.store offset=0 (local.get $e) (local.get $index))
        (i32.store8 offset=8 (local.get $e) (local.get $d))
        (i64.store offset=16 (local.get $e) (local.get $now))
        (i32.store8 offset=24 (local.get $e) (local.get $kind))
        (i64.store offset=32 (local.get $e) (local.get $detail))
        (global.set $log_count (i32.add (global.get $log_count) (i32.const 1))))))

  ;; Draw k (0..5) of the current decision block, big-endian, as an unsigned value.
  (func $draw (param $k i32) (result i64)
    (i64.extend_i32_u (call $bswap32 (i32.load (i32.add (i32.const 192) (i32.shl (local.get $k) (i32.const 2)))))))

  ;; One datagram sent in direction $d under the fault model.
  (func $submit (param $d i32) (param $src i32) (param $len i32) (param $now i64)
    (local $index i64) (local $s i32) (local $s2 i32) (local $offset i32) (local $at i32) (local $release i64)
    (local.set $index (global.get $sends))
    (global.set $sends (i64.add (global.get $sends) (i64.const 1)))
    (call $expire (local.get $d) (local.get $now))
    (if (i32.or (global.get $empty) (global.get $calmed))
      (then
        (call $deliver (local.get $d) (call $slot_new (local.get $src) (local.get $len)) (i32.const -1)
                       (local.get $now))
        (return)))
    (call $drbg_generate24)
    (if (i64.lt_u (call $draw (i32.const 0)) (global.get $thr_drop))
      (then
        (call $record (local.get $index) (local.get $d) (local.get $now) (i32.const 0) (i64.const 0))
        (return)))
    (local.set $s (call $slot_new (local.get $src) (local.get $len)))
    (if (i32.and (i32.ne (local.get $len) (i32.const 0))
                 (i64.lt_u (call $draw (i32.const 1)) (global.get $thr_corrupt)))
      (then
        (local.set $offset
          (i32.wrap_i64 (i64.rem_u (call $draw (i32.const 2)) (i64.extend_i32_u (local.get $len)))))
        (local.set $at (i32.add (call $slot_addr (local.get $s)) (local.get $offset)))
        (i32.store8 (local.get $at)
          (i32.xor (i32.load8_u (local.get $at))
                   (i32.add (i32.const 1) (i32.wrap_i64 (i64.rem_u (call $draw (i32.const 3)) (i64.const 255))))))
        (call $record (local.get $index) (local.get $d) (local.get $now) (i32.const 1)
                      (i64.extend_i32_u (local.get $offset)))))
    (local.set $s2 (i32.const -1))
    (if (i64.lt_u (call $draw (i32.const 4)) (global.get $thr_duplicate))
      (then
        (local.set $s2 (call $slot_new (call $slot_addr (local.get $s)) (local.get $len)))
        (call $record (local.get $index) (local.get $d) (local.get $now) (i32.const 2) (i64.const 0))))
    (if (i64.lt_u (call $draw (i32.const 5)) (global.get $thr_reorder))
      (then
        (call $record (local.get $index) (local.get $d) (local.get $now) (i32.const 3) (i64.const 0))
        (if (i64.ne (global.get $delay) (i64.const 0))
          (then (call $record (local.get $index) (local.get $d) (local.get $now) (i32.const 4) (i64.const 0))))
        (call $held_push (local.get $d) (i64.add (local.get $now) (i64.const 1000)) (local.get $s) (local.get $s2))
        (return)))
    (local.set $release (i64.add (local.get $now) (global.get $delay)))
    (if (i64.ne (global.get $delay) (i64.const 0))
      (then (call $record (local.get $index) (local.get $d) (local.get $now) (i32.const 4) (local.get $release))))
    (call $deliver (local.get $d) (local.get $s) (local.get $s2) (local.get $release)))

  ;; ---------------------------------------------------------------------- error messages

  (func $put (param $pos i32) (param $src i32) (param $len i32) (result i32)
    (memory.copy (local.get $pos) (local.get $src) (local.get $len))
    (i32.add (local.get $pos) (local.get $len)))

  ;; $v in decimal; at least $min digits (zero-padded).
  (func $put_u64 (param $pos i32) (param $v i64) (param $min i32) (result i32)
    (local $n i32) (local $i i32)
    ;; Digits backwards into the top of the message buffer, then copied forward.
    (loop $digit
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (i32.store8 (i32.sub (i32.const 1792) (local.get $n))
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digit (i32.or (i64.ne (local.get $v) (i64.const 0)) (i32.lt_u (local.get $n) (local.get $min)))))
    (call $put (local.get $pos) (i32.sub (i32.const 1792) (local.get $n)) (local.get $n)))

  ;; 10^k as a double: exact up to 10^22 (5^22 < 2^53), a close approximation beyond.
  (func $pow10 (param $k i32) (result f64)
    (local $p f64)
    (local.set $p (f64.const 1))
    (block $done
      (loop $more
        (br_if $done (i32.le_s (local.get $k) (i32.const 0)))
        (local.set $p (f64.mul (local.get $p) (f64.const 10)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $more)))
    (local.get $p))

  ;; $n decimal digits of $m (zero-padded) at 2400.
  (func $digits (param $m i64) (param $n i32)
    (block $done
      (loop $more
        (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (i32.store8 (i32.add (i32.const 2400) (local.get $n))
          (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $m) (i64.const 10)))))
        (local.set $m (i64.div_u (local.get $m) (i64.const 10)))
        (br $more))))

  (func $zeros (param $pos i32) (param $n i32) (result i32)
    (memory.fill (local.get $pos) (i32.const 48) (local.get $n))
    (i32.add (local.get $pos) (local.get $n)))

  ;; A refused rate as Python's repr() writes it: nan, inf, -inf, else the fewest
  ;; significant digits that read back as the value (a digit count n and decimal
  ;; exponent e such that m = round(v * 10^(n-1-e)) gives back v), in fixed notation for
  ;; -4 <= e < 16 and as d.ddde+XX otherwise. The round trip is checked with one
  ;; correctly rounded operation by an exact power of ten, so the digits are repr's
  ;; whenever n - 1 - e lies within -22..22 (every rate a person types); beyond that the
  ;; last digits may differ (the rate is refused either way).
  (func $put_rate (param $pos i32) (param $v f64) (result i32)
    (local $e i32) (local $n i32) (local $s i32) (local $m f64) (local $mi i64)
    (if (f64.ne (local.get $v) (local.get $v))
      (then (return (call $put (local.get $pos) (i32.const 2296) (i32.const 3)))))
    (if (f64.lt (local.get $v) (f64.const 0))
      (then
        (i32.store8 (local.get $pos) (i32.const 45))
        (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
        (local.set $v (f64.neg (local.get $v)))))
    (if (f64.eq (local.get $v) (f64.const inf))
      (then (return (call $put (local.get $pos) (i32.const 2300) (i32.const 3)))))
    (if (f64.eq (local.get $v) (f64.const 0))
      (then (return (call $put (local.get $pos) (i32.const 2420) (i32.const 3)))))
    ;; e = floor(log10(v))
    (block $found
      (loop $up
        (br_if $found (f64.lt (local.get $v) (call $pow10 (i32.add (local.get $e) (i32.const 1)))))
        (local.set $e (i32.add (local.get $e) (i32.const 1)))
        (br $up)))
    (block $found
      (loop $down
        (br_if $found (f64.ge (f64.mul (local.get $v) (call $pow10 (i32.sub (i32.const 0) (local.get $e))))
                              (f64.const 1)))
        (local.set $e (i32.sub (local.get $e) (i32.const 1)))
        (br $down)))
    (block $found
      (loop $try
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (local.set $s (i32.sub (i32.sub (local.get $n) (i32.const 1)) (local.get $e)))
        (if (i32.ge_s (local.get $s) (i32.const 0))
          (then
            (local.set $m (f64.nearest (f64.mul (local.get $v) (call $pow10 (local.get $s)))))
            (br_if $found (f64.eq (f64.div (local.get $m) (call $pow10 (local.get $s))) (local.get $v))))
          (else
            (local.set $m (f64.nearest (f64.div (local.get $v) (call $pow10 (i32.sub (i32.const 0) (local.get $s))))))
            (br_if $found (f64.eq (f64.mul (local.get $m) (call $pow10 (i32.sub (i32.const 0) (local.get $s))))
                                  (local.get $v)))))
        (br_if $found (i32.ge_u (local.get $n) (i32.const 17)))
        (br $try)))
    (local.set $mi (i64.trunc_sat_f64_u (local.get $m)))
    ;; Rounding up to the next power of ten (9.99... -> 10) adds a digit.
    (if (f64.ge (local.get $m) (call $pow10 (local.get $n)))
      (then
        (local.set $mi (i64.div_u (local.get $mi) (i64.const 10)))
        (local.set $e (i32.add (local.get $e) (i32.const 1)))))
    (call $digits (local.get $mi) (local.get $n))
    (if (i32.and (i32.ge_s (local.get $e) (i32.const -4)) (i32.lt_s (local.get $e) (i32.const 16)))
      (then
        (if (i32.lt_s (local.get $e) (i32.const 0))
          (then
            ;; 0.000ddd
            (local.set $pos (call $put (local.get $pos) (i32.const 2420) (i32.const 2)))
            (local.set $pos (call $zeros (local.get $pos) (i32.sub (i32.const -1) (local.get $e))))
            (return (call $put (local.get $pos) (i32.const 2400) (local.get $n)))))
        (if (i32.le_s (local.get $n) (i32.add (local.get $e) (i32.const 1)))
          (then
            ;; ddd000.0
            (local.set $pos (call $put (local.get $pos) (i32.const 2400) (local.get $n)))
            (local.set $pos (call $zeros (local.get $pos)
                              (i32.sub (i32.add (local.get $e) (i32.const 1)) (local.get $n))))
            (return (call $put (local.get $pos) (i32.const 2421) (i32.const 2)))))
        ;; ddd.ddd
        (local.set $pos (call $put (local.get $pos) (i32.const 2400) (i32.add (local.get $e) (i32.const 1))))
        (i32.store8 (local.get $pos) (i32.const 46))
        (return (call $put (i32.add (local.get $pos) (i32.const 1))
                  (i32.add (i32.const 2401) (local.get $e))
                  (i32.sub (local.get $n) (i32.add (local.get $e) (i32.const 1)))))))
    ;; d.ddde+XX
    (local.set $pos (call $put (local.get $pos) (i32.const 2400) (i32.const 1)))
    (if (i32.gt_u (local.get $n) (i32.const 1))
      (then
        (i32.store8 (local.get $pos) (i32.const 46))
        (local.set $pos (call $put (i32.add (local.get $pos) (i32.const 1)) (i32.const 2401)
                          (i32.sub (local.get $n) (i32.const 1))))))
    (i32.store8 (local.get $pos) (i32.const 101))
    (i32.store8 offset=1 (local.get $pos)
      (select (i32.const 45) (i32.const 43) (i32.lt_s (local.get $e) (i32.const 0))))
    (call $put_u64 (i32.add (local.get $pos) (i32.const 2))
      (i64.extend_i32_u (select (i32.sub (i32.const 0) (local.get $e)) (local.get $e)
                                (i32.lt_s (local.get $e) (i32.const 0))))
      (i32.const 2)))

  ;; result<_, string>::err with the message from 1536 to $end, in the return area.
  (func $refuse (param $end i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 1))
    (i32.store (i32.const 20) (i32.const 1536))
    (i32.store (i32.const 24) (i32.sub (local.get $end) (i32.const 1536)))
    (global.set $bump (global.get $heap_base))
    (i32.const 16))

  ;; "fault rate <name>=<rate> is outside 0..1" for rate $k, or 0 when the rate is usable.
  (func $check_rate (param $k i32) (param $v f64) (result i32)
    (local $pos i32)
    (if (i32.and (f64.ge (local.get $v) (f64.const 0)) (f64.le (local.get $v) (f64.const 1)))
      (then (return (i32.const 0))))
    (local.set $pos (call $put (i32.const 1536) (i32.const 2048) (i32.const 11)))
    (local.set $pos (call $put (local.get $pos)
      (i32.load (i32.add (i32.const 2304) (i32.shl (local.get $k) (i32.const 3))))
      (i32.load (i32.add (i32.const 2308) (i32.shl (local.get $k) (i32.const 3))))))
    (i32.store8 (local.get $pos) (i32.const 61))
    (local.set $pos (call $put_rate (i32.add (local.get $pos) (i32.const 1)) (local.get $v)))
    (call $put (local.get $pos) (i32.const 2112) (i32.const 16)))

  ;; ------------------------------------------------------------------ the endpoints

  ;; Endpoint $e (0: A, the `transport` export; 1: B) sends: direction $e.
  (func $send (param $d i32) (param $p i32) (param $n i32) (result i32)
    (local $stat i32)
    (global.set $bump (global.get $heap_base))
    (if (i32.or (i32.ge_u (call $waiting (local.get $d)) (i32.const 256))
                (i32.gt_u (local.get $n) (i32.const 1280)))
      (then
        (i64.store offset=32 (i32.const 1408) (i64.add (i64.load offset=32 (i32.const 1408)) (i64.const 1)))
        (return (i32.const 0))))
    (local.set $stat (i32.add (i32.const 1408) (i32.shl (local.get $d) (i32.const 4))))
    (i64.store offset=0 (local.get $stat) (i64.add (i64.load offset=0 (local.get $stat)) (i64.const 1)))
    (i64.store offset=8 (local.get $stat)
      (i64.add (i64.load offset=8 (local.get $stat)) (i64.extend_i32_u (local.get $n))))
    (i32.store8 (i32.const 128) (i32.add (local.get $d) (i32.const 1)))
    (i32.store (i32.const 129) (local.get $n))
    (call $sha_update (i32.const 1024) (i32.const 128) (i32.const 5))
    (call $sha_update (i32.const 1024) (local.get $p) (local.get $n))
    (if (global.get $configured)
      (then (call $submit (local.get $d) (local.get $p) (local.get $n) (call $now_ms)))
      (else (call $ready_push (local.get $d) (call $slot_new (local.get $p) (local.get $n)))))
    (i32.const 1))

  ;; Endpoint $e receives what travels in direction 1 - $e: option<list<u8>> at 16.
  (func $receive (param $e i32) (result i32)
    (local $d i32) (local $s i32)
    (global.set $bump (global.get $heap_base))
    (local.set $d (i32.sub (i32.const 1) (local.get $e)))
    (if (global.get $configured) (then (call $due (local.get $d) (call $now_ms))))
    (local.set $s (call $ready_pop (local.get $d)))
    (if (i32.lt_s (local.get $s) (i32.const 0))
      (then
        (i32.store8 (i32.const 16) (i32.const 0))
        (return (i32.const 16))))
    (memory.copy (i32.const 229376) (call $slot_addr (local.get $s)) (call $slot_len (local.get $s)))
    (i32.store8 (i32.const 16) (i32.const 1))
    (i32.store (i32.const 20) (i32.const 229376))
    (i32.store (i32.const 24) (call $slot_len (local.get $s)))
    (call $slot_free (local.get $s))
    (i32.const 16))

  (func (export "a-send") (param i32 i32) (result i32)
    (call $send (i32.const 0) (local.get 0) (local.get 1)))
  (func (export "a-receive") (result i32)
    (call $receive (i32.const 0)))
  (func (export "b-send") (param i32 i32) (result i32)
    (call $send (i32.const 1) (local.get 0) (local.get 1)))
  (func (export "b-receive") (result i32)
    (call $receive (i32.const 1)))

  ;; loopback-counters: the counters in place, the digest of the traffic so far.
  (func (export "stats") (result i32)
    (global.set $bump (global.get $heap_base))
    (memory.copy (i32.const 1152) (i32.const 1024) (i32.const 128))
    (call $sha_final (i32.const 1152) (i32.const 160))
    (i32.store offset=40 (i32.const 1408) (i32.const 160))
    (i32.store offset=44 (i32.const 1408) (i32.const 32))
    (i32.const 1408))

  ;; ------------------------------------------------------------------ link-faults

  (func (export "configure")
    (param $drop f64) (param $corrupt f64) (param $duplicate f64) (param $reorder f64)
    (param $delay i64) (param $seed i32) (param $seed_len i32) (result i32)
    (local $end i32)
    (if (global.get $configured)
      (then (return (call $refuse (call $put (i32.const 1536) (i32.const 2176) (i32.const 40))))))
    (if (i64.ne (i64.or (i64.load offset=0 (i32.const 1408)) (i64.load offset=16 (i32.const 1408)))
                (i64.const 0))
      (then (return (call $refuse (call $put (i32.const 1536) (i32.const 2224) (i32.const 55))))))
    (if (local.tee $end (call $check_rate (i32.const 0) (local.get $drop)))
      (then (return (call $refuse (local.get $end)))))
    (if (local.tee $end (call $check_rate (i32.const 1) (local.get $corrupt)))
      (then (return (call $refuse (local.get $end)))))
    (if (local.tee $end (call $check_rate (i32.const 2) (local.get $duplicate)))
      (then (return (call $refuse (local.get $end)))))
    (if (local.tee $end (call $check_rate (i32.const 3) (local.get $reorder)))
      (then (return (call $refuse (local.get $end)))))
    (if (i64.gt_u (local.get $delay) (i64.const 3600000))
      (then
        (local.set $end (call $put (i32.const 1536) (i32.const 2128) (i32.const 12)))
        (local.set $end (call $put_u64 (local.get $end) (local.get $delay) (i32.const 1)))
        (return (call $refuse (call $put (local.get $end) (i32.const 2144) (i32.const 25))))))
    ;; floor(r * 2^32): the product is exact, truncation is the floor for r >= 0.
    (global.set $thr_drop (i64.trunc_f64_u (f64.mul (local.get $drop) (f64.const 4294967296))))
    (global.set $thr_corrupt (i64.trunc_f64_u (f64.mul (local.get $corrupt) (f64.const 4294967296))))
    (global.set $thr_duplicate (i64.trunc_f64_u (f64.mul (local.get $duplicate) (f64.const 4294967296))))
    (global.set $thr_reorder (i64.trunc_f64_u (f64.mul (local.get $reorder) (f64.const 4294967296))))
    (global.set $delay (local.get $delay))
    (global.set $empty
      (i32.and (i64.eqz (local.get $delay))
        (i32.and (i32.and (f64.eq (local.get $drop) (f64.const 0)) (f64.eq (local.get $corrupt) (f64.const 0)))
                 (i32.and (f64.eq (local.get $duplicate) (f64.const 0)) (f64.eq (local.get $reorder) (f64.const 0))))))
    (call $drbg_instantiate (local.get $seed) (local.get $seed_len))
    (global.set $configured (i32.const 1))
    (global.set $bump (global.get $heap_base))
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.const 16))

  ;; Deliver a datagram to endpoint B ($to_b) or A as if its peer had sent it.
  (func (export "inject") (param $to_b i32) (param $p i32) (param $n i32) (result i32)
    (local $d i32)
    (global.set $bump (global.get $heap_base))
    (if (i32.eqz (global.get $configured)) (then (return (i32.const 0))))
    (local.set $d (select (i32.const 0) (i32.const 1) (local.get $to_b)))
    (if (i32.or (i32.ge_u (call $waiting (local.get $d)) (i32.const 256))
                (i32.gt_u (local.get $n) (i32.const 1280)))
      (then
        (i64.store offset=32 (i32.const 1408) (i64.add (i64.load offset=32 (i32.const 1408)) (i64.const 1)))
        (return (i32.const 0))))
    (call $inject_now (local.get $d) (local.get $p) (local.get $n) (call $now_ms))
    (i32.const 1))

  (func $inject_now (param $d i32) (param $p i32) (param $n i32) (param $now i64)
    (call $record (i64.load offset=40 (i32.const 1472)) (local.get $d) (local.get $now) (i32.const 5)
                  (i64.extend_i32_u (local.get $n)))
    (call $schedule (local.get $d) (call $slot_new (local.get $p) (local.get $n)) (i32.const -1)
                    (local.get $now)))

  (func (export "calm")
    (global.set $bump (global.get $heap_base))
    (if (global.get $configured) (then (global.set $calmed (i32.const 1)))))

  ;; option<u64> at 16: the earliest release in flight or of a held group (deadline + delay).
  (func (export "next-release-ms") (result i32)
    (local $found i32) (local $best i64) (local $t i64) (local $d i32) (local $i i32) (local $count i32)
    (global.set $bump (global.get $heap_base))
    (loop $direction
      (local.set $count (i32.load (call $state (i32.const 1808) (local.get $d))))
      (local.set $i (i32.const 0))
      (block $flown
        (loop $flight
          (br_if $flown (i32.ge_u (local.get $i) (local.get $count)))
          (local.set $t (i64.load (call $flight_entry (local.get $d) (local.get $i))))
          (if (i32.or (i32.eqz (local.get $found)) (i64.lt_u (local.get $t) (local.get $best)))
            (then (local.set $best (local.get $t)) (local.set $found (i32.const 1))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $flight)))
      (local.set $count (i32.load (call $state (i32.const 1816) (local.get $d))))
      (local.set $i (i32.const 0))
      (block $helds
        (loop $held
          (br_if $helds (i32.ge_u (local.get $i) (local.get $count)))
          (local.set $t (i64.add (i64.load (call $held_entry (local.get $d) (local.get $i))) (global.get $delay)))
          (if (i32.or (i32.eqz (local.get $found)) (i64.lt_u (local.get $t) (local.get $best)))
            (then (local.set $best (local.get $t)) (local.set $found (i32.const 1))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $held)))
      (br_if $direction (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 1))) (i32.const 2))))
    (i32.store8 (i32.const 16) (local.get $found))
    (i64.store (i32.const 24) (local.get $best))
    (i32.const 16))

  ;; fault-counters in place (all zero until configured).
  (func (export "counters") (result i32)
    (global.set $bump (global.get $heap_base))
    (i32.const 1472))

  ;; list<fault-event>: the log in place.
  (func (export "events") (result i32)
    (global.set $bump (global.get $heap_base))
    (i32.store (i32.const 16) (i32.const 65536))
    (i32.store (i32.const 20) (global.get $log_count))
    (i32.const 16))

  ;; ------------------------------------------------------------- canonical ABI allocator

  ;; A bump allocator above 917504 for the lists the host lowers into a call; every
  ;; export resets it once it no longer needs its parameters (its results never live
  ;; there). Memory grows as needed; a request memory cannot hold traps the instance.
  (func $cabi_realloc (export "cabi_realloc")
    (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $at i32) (local $end i32) (local $need i32)
    (local.set $at
      (i32.and (i32.add (global.get $bump) (i32.sub (local.get $align) (i32.const 1)))
               (i32.sub (i32.const 0) (local.get $align))))
    (local.set $end (i32.add (local.get $at) (local.get $size)))
    (if (i32.lt_u (local.get $end) (local.get $at)) (then (unreachable)))
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then
        (local.set $need
          (i32.sub (i32.shr_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 16)) (memory.size)))
        (if (i32.lt_s (memory.grow (local.get $need)) (i32.const 0)) (then (unreachable)))))
    (if (local.get $old)
      (then
        (memory.copy (local.get $at) (local.get $old)
          (select (local.get $old_size) (local.get $size) (i32.lt_u (local.get $old_size) (local.get $size))))))
    (global.set $bump (local.get $end))
    (local.get $at))

  ;; ------------------------------------------- test exports (not lifted by the component)

  (func (export "test-sha256") (param $p i32) (param $n i32) (param $out i32)
    (call $sha_init (i32.const 1152))
    (call $sha_update (i32.const 1152) (local.get $p) (local.get $n))
    (call $sha_final (i32.const 1152) (local.get $out)))

  (func (export "test-hmac-sha256") (param $key i32) (param $key_len i32) (param $p i32) (param $n i32) (param $out i32)
    (call $hmac_init (local.get $key) (local.get $key_len))
    (call $hmac_update (local.get $p) (local.get $n))
    (call $hmac_final (local.get $out)))

  (func (export "test-drbg-instantiate") (param $seed i32) (param $len i32)
    (call $drbg_instantiate (local.get $seed) (local.get $len)))

  ;; The next 24-byte decision block, at 192.
  (func (export "test-drbg-generate") (result i32)
    (call $drbg_generate24)
    (i32.const 192))
)
