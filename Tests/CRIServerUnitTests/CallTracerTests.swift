import Foundation
import Testing

@testable import CRIServer

/// Which trace headers reach the tracer: only well-formed W3C values; anything else any client sends is
/// dropped before the propagator's parser sees it.
@Suite struct CallTracerTests {
  @Test func traceParentMustHaveTheW3CForm() {
    let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    #expect(CallTracer.isTraceParent(good))
    #expect(!CallTracer.isTraceParent(good.uppercased()))
    #expect(!CallTracer.isTraceParent(good + "0"))
    #expect(!CallTracer.isTraceParent(String(good.dropLast())))
    #expect(!CallTracer.isTraceParent(good.replacingOccurrences(of: "-", with: "_")))
    #expect(!CallTracer.isTraceParent("00-4bf92f3577b34da6a3ce929d0e0e473é-00f067aa0ba902b7-01"))
    #expect(!CallTracer.isTraceParent(""))
  }

  @Test func traceStateIsBoundedPrintableASCII() {
    #expect(CallTracer.isTraceState("kubelet=on"))
    #expect(CallTracer.isTraceState("a=1,b=2"))
    #expect(CallTracer.isTraceState(""))
    // Letters with combining marks: the W3C library's parser traps on its error path for these.
    #expect(!CallTracer.isTraceState(String(repeating: "b\u{301}", count: 89) + "=1"))
    #expect(!CallTracer.isTraceState("a=1\u{7F}"))
    #expect(!CallTracer.isTraceState("a=1\t"))
    #expect(!CallTracer.isTraceState(String(repeating: "a", count: 513)))
    #expect(CallTracer.isTraceState(Array(repeating: "k=v", count: 32).joined(separator: ",")))
    #expect(!CallTracer.isTraceState(Array(repeating: "k=v", count: 33).joined(separator: ",")))
  }
}
