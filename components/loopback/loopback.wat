;; The loopback transport component (world `loopback` of wit/pase.wit), in component-model
;; text. The builder (harness/build/transport.py) puts the core module of link.wat where
;; the `@link-module` line stands and compiles the result with wasmtime's wat2wasm.
;;
;; It imports the clock (read only once the link's faults are configured) and exports the
;; two endpoints (`transport` for the commissioner, `endpoint-b` for the commissionee),
;; `loopback-stats` and `link-faults`. Exports are lifted with the canonical ABI
;; (component-model CanonicalABI.md); the interfaces that name types are ascribed instance
;; types that export those names, as wit-component spells a WIT interface.
(component $loopback
  (import "matter:pase/clock@0.1.0" (instance $clock
    (export "now-ms" (func (result u64)))))

  ;; @link-module

  (alias export $clock "now-ms" (func $now-ms))
  (core func $now-ms-lowered (canon lower (func $now-ms)))
  (core instance $clock-core (export "now-ms" (func $now-ms-lowered)))
  (core instance $link (instantiate $link (with "clock" (instance $clock-core))))
  (alias core export $link "memory" (core memory $memory))
  (alias core export $link "cabi_realloc" (core func $realloc))

  ;; ------------------------------------------------------------------ the endpoints
  (func $a-send (param "datagram" (list u8)) (result bool)
    (canon lift (core func $link "a-send") (memory $memory) (realloc $realloc)))
  (func $a-receive (result (option (list u8)))
    (canon lift (core func $link "a-receive") (memory $memory) (realloc $realloc)))
  (func $b-send (param "datagram" (list u8)) (result bool)
    (canon lift (core func $link "b-send") (memory $memory) (realloc $realloc)))
  (func $b-receive (result (option (list u8)))
    (canon lift (core func $link "b-receive") (memory $memory) (realloc $realloc)))
  (instance $transport (export "send" (func $a-send)) (export "receive" (func $a-receive)))
  (instance $endpoint-b (export "send" (func $b-send)) (export "receive" (func $b-receive)))
  (export "matter:pase/transport@0.1.0" (instance $transport))
  (export "matter:pase/endpoint-b@0.1.0" (instance $endpoint-b))

  ;; ---------------------------------------------------------------- loopback-stats
  (type $direction-stats (record (field "packets" u64) (field "bytes" u64)))
  (type $loopback-counters (record
    (field "a-to-b" $direction-stats)
    (field "b-to-a" $direction-stats)
    (field "dropped" u64)
    (field "traffic-digest" (list u8))))
  (func $stats (result $loopback-counters)
    (canon lift (core func $link "stats") (memory $memory) (realloc $realloc)))
  (instance $stats-instance
    (export "direction-stats" (type $direction-stats))
    (export "loopback-counters" (type $loopback-counters))
    (export "stats" (func $stats)))
  (type $stats-type (instance
    (type $d1 (record (field "packets" u64) (field "bytes" u64)))
    (export "direction-stats" (type $e1 (eq $d1)))
    (type $d2 (record
      (field "a-to-b" $e1) (field "b-to-a" $e1) (field "dropped" u64)
      (field "traffic-digest" (list u8))))
    (export "loopback-counters" (type $e2 (eq $d2)))
    (type $f1 (func (result $e2)))
    (export "stats" (func (type $f1)))))
  (export "matter:pase/loopback-stats@0.1.0" (instance $stats-instance) (instance (type $stats-type)))

  ;; ------------------------------------------------------------------- link-faults
  (type $fault-plan (record
    (field "drop" f64) (field "corrupt" f64) (field "duplicate" f64) (field "reorder" f64)
    (field "delay-ms" u64)))
  (type $fault-kind (enum "dropped" "corrupted" "duplicated" "reordered" "delayed" "injected"))
  (type $fault-counters (record
    (field "dropped" u64) (field "corrupted" u64) (field "duplicated" u64)
    (field "reordered" u64) (field "delayed" u64) (field "injected" u64)))
  (type $fault-event (record
    (field "index" u64) (field "direction" u8) (field "at-ms" u64) (field "kind" $fault-kind)
    (field "detail" u64)))
  (func $configure (param "plan" $fault-plan) (param "seed" (list u8)) (result (result (error string)))
    (canon lift (core func $link "configure") (memory $memory) (realloc $realloc)))
  (func $inject (param "to-b" bool) (param "datagram" (list u8)) (result bool)
    (canon lift (core func $link "inject") (memory $memory) (realloc $realloc)))
  (func $calm (canon lift (core func $link "calm")))
  (func $next-release-ms (result (option u64))
    (canon lift (core func $link "next-release-ms") (memory $memory) (realloc $realloc)))
  (func $counters (result $fault-counters)
    (canon lift (core func $link "counters") (memory $memory) (realloc $realloc)))
  (func $events (result (list $fault-event))
    (canon lift (core func $link "events") (memory $memory) (realloc $realloc)))
  (instance $faults-instance
    (export "fault-plan" (type $fault-plan))
    (export "fault-kind" (type $fault-kind))
    (export "fault-counters" (type $fault-counters))
    (export "fault-event" (type $fault-event))
    (export "configure" (func $configure))
    (export "inject" (func $inject))
    (export "calm" (func $calm))
    (export "next-release-ms" (func $next-release-ms))
    (export "counters" (func $counters))
    (export "events" (func $events)))
  (type $faults-type (instance
    (type $d1 (record
      (field "drop" f64) (field "corrupt" f64) (field "duplicate" f64) (field "reorder" f64)
      (field "delay-ms" u64)))
    (export "fault-plan" (type $e1 (eq $d1)))
    (type $d2 (enum "dropped" "corrupted" "duplicated" "reordered" "delayed" "injected"))
    (export "fault-kind" (type $e2 (eq $d2)))
    (type $d3 (record
      (field "dropped" u64) (field "corrupted" u64) (field "duplicated" u64)
      (field "reordered" u64) (field "delayed" u64) (field "injected" u64)))
    (export "fault-counters" (type $e3 (eq $d3)))
    (type $d4 (record
      (field "index" u64) (field "direction" u8) (field "at-ms" u64) (field "kind" $e2)
      (field "detail" u64)))
    (export "fault-event" (type $e4 (eq $d4)))
    (type $f1 (func (param "plan" $e1) (param "seed" (list u8)) (result (result (error string)))))
    (export "configure" (func (type $f1)))
    (type $f2 (func (param "to-b" bool) (param "datagram" (list u8)) (result bool)))
    (export "inject" (func (type $f2)))
    (type $f3 (func))
    (export "calm" (func (type $f3)))
    (type $f4 (func (result (option u64))))
    (export "next-release-ms" (func (type $f4)))
    (type $f5 (func (result $e3)))
    (export "counters" (func (type $f5)))
    (type $f6 (func (result (list $e4))))
    (export "events" (func (type $f6)))))
  (export "matter:pase/link-faults@0.1.0" (instance $faults-instance) (instance (type $faults-type)))
)
