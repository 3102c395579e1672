// RUN: python %S/inputs/models.py weights %t.onnx
// RUN: head -c 200 %t.onnx > %t.truncated.onnx
// RUN: not optc %t.truncated.onnx 2>&1 | filecheck %s --check-prefix=TRUNCATED
// RUN: echo "not a model" > %t.text.onnx
// RUN: not optc %t.text.onnx 2>&1 | filecheck %s --check-prefix=TEXT
// RUN: not optc %t.missing.onnx 2>&1 | filecheck %s --check-prefix=MISSING
// RUN: head -c 0 %t.onnx > %t.empty.onnx
// RUN: not optc %t.empty.onnx 2>&1 | filecheck %s --check-prefix=EMPTY
// A damaged, empty or missing file ends in one clear line, never a traceback.

// TRUNCATED-NOT: Traceback
// TRUNCATED: optc: error: '{{.*}}.truncated.onnx' is not a valid ONNX model (truncated or corrupt file?)
// TEXT-NOT: Traceback
// TEXT: optc: error: '{{.*}}.text.onnx' is not a valid ONNX model
// MISSING-NOT: Traceback
// MISSING: optc: error: cannot open '{{.*}}.missing.onnx': No such file or directory
// EMPTY-NOT: Traceback
// EMPTY: optc: error: model file '{{.*}}.empty.onnx' is empty
