import Runtime
import Testing

/// Stop signals as images write them become the numbers the shim sends.
@Suite struct SignalNamesTests {
  @Test func namesNumbersAndRealTimeSignals() {
    #expect(SignalNames.number("SIGTERM") == 15)
    #expect(SignalNames.number("TERM") == 15)
    #expect(SignalNames.number("sigquit") == 3)
    #expect(SignalNames.number("9") == 9)
    #expect(SignalNames.number("SIGUSR1") == 10)
    #expect(SignalNames.number("SIGRTMIN") == 34)
    #expect(SignalNames.number("SIGRTMIN+3") == 37)
    #expect(SignalNames.number("RTMAX-1") == 63)
    #expect(SignalNames.number("SIGRTMIN+40") == nil)
    #expect(SignalNames.number("0") == nil)
    // Offsets out of range, negative or huge (from an image's StopSignal) are refused, never trapped on.
    #expect(SignalNames.number("SIGRTMIN+2147483647") == nil)
    #expect(SignalNames.number("SIGRTMAX--2147483648") == nil)
    #expect(SignalNames.number("RTMIN+-30") == nil)
    #expect(SignalNames.number("SIGNOPE") == nil)
  }
}
