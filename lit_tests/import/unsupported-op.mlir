// RUN: python %S/inputs/models.py unsupported %t.onnx
// RUN: not optc %t.onnx 2>&1 | filecheck %s
// RUN: python %S/inputs/models.py custom_domain %t.custom.onnx
// RUN: not optc %t.custom.onnx 2>&1 | filecheck %s --check-prefix=DOMAIN
// An op without an importer stops the import with one line naming the op type, the
// node and where the supported ops are listed.

// CHECK-NOT: Traceback
// CHECK: optc: error: unsupported ONNX op 'Det' (node 'det'); supported ops are listed in docs/supported-ops.md (or `optc --list-onnx-ops`)
// DOMAIN-NOT: Traceback
// DOMAIN: optc: error: unsupported ONNX op 'com.example.FusedGelu' (node 'fused'); supported ops are listed in docs/supported-ops.md
