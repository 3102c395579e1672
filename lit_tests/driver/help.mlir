// RUN: optc --help | filecheck %s
// RUN: optc --list-onnx-ops | filecheck %s --check-prefix=OPS
// --help lists every pass with its one-line summary and every named pipeline;
// --list-onnx-ops lists the ONNX op types the importer handles.

// CHECK: --shape NAME=DIMS
// CHECK: --compile-to LEVEL
// CHECK: --print-ir-after-all
// CHECK: --list-onnx-ops
// CHECK: passes:
// CHECK: graph-dce {{ *}}Erase unused, side-effect-free ops.
// CHECK: pipelines:
// CHECK: default {{ *}}{{[a-z]}}
// OPS: Add
// OPS: Conv
// OPS: Relu
