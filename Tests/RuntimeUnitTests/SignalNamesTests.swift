import OCI
@testable import Runtime
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

  @Test func canonicalNamesAreTheOneSpellingReportedAndSent() {
    #expect(SignalNames.canonicalName("SIGINT") == "SIGINT")
    #expect(SignalNames.canonicalName("int") == "SIGINT")
    #expect(SignalNames.canonicalName("2") == "SIGINT")
    #expect(SignalNames.canonicalName("SIGIOT") == "SIGABRT")
    #expect(SignalNames.canonicalName("SIGCLD") == "SIGCHLD")
    #expect(SignalNames.canonicalName("POLL") == "SIGIO")
    #expect(SignalNames.canonicalName("34") == "SIGRTMIN")
    #expect(SignalNames.canonicalName("SIGRTMIN+15") == "SIGRTMIN+15")
    #expect(SignalNames.canonicalName("RTMAX-14") == "SIGRTMAX-14")
    #expect(SignalNames.canonicalName("RTMIN+16") == "SIGRTMAX-14")
    #expect(SignalNames.canonicalName("64") == "SIGRTMAX")
    #expect(SignalNames.canonicalName("SIGNOPE") == nil)
    #expect(SignalNames.canonicalName("") == nil)
    #expect(SignalNames.canonicalName("65") == nil)
    #expect(SignalNames.canonicalName(String(repeating: "9", count: 40)) == nil)
    // Every signal number has a name that maps back to it.
    for number in Int32(1)...64 where number != 32 && number != 33 {
      let name = SignalNames.canonicalName("\(number)")
      #expect(name.flatMap(SignalNames.number) == number, "\(number): \(name ?? "nil")")
    }
  }

  @Test func theStopSignalIsKubeletsElseTheImagesElseSIGTERM() {
    func image(_ stopSignal: String?) -> ImageConfig {
      var runtime = ImageConfig.Runtime()
      runtime.stopSignal = stopSignal
      return ImageConfig(config: runtime, rootfs: .init(diffIDs: []))
    }
    var config = ContainerSpec()
    #expect(RuntimeManager.stopSignal(config, image(nil)) == "SIGTERM")
    #expect(RuntimeManager.stopSignal(config, ImageConfig(config: nil, rootfs: .init(diffIDs: []))) == "SIGTERM")
    #expect(RuntimeManager.stopSignal(config, image("SIGINT")) == "SIGINT")
    #expect(RuntimeManager.stopSignal(config, image("quit")) == "SIGQUIT")
    #expect(RuntimeManager.stopSignal(config, image("9")) == "SIGKILL")
    // An image's value that names no signal is not sent (nor reported): SIGTERM.
    #expect(RuntimeManager.stopSignal(config, image("SIGNOPE")) == "SIGTERM")
    config.stopSignal = .named("SIGUSR1")
    #expect(RuntimeManager.stopSignal(config, image("SIGINT")) == "SIGUSR1")
    config.stopSignal = .unrecognized(99)
    #expect(RuntimeManager.stopSignal(config, image("SIGINT")) == "SIGTERM")
  }

  @Test func processGroupsPutThePrimaryGroupFirstOnce() {
    #expect(SpecBuilder.ResolvedUser(uid: 1000, gid: 2000, additionalGids: [3000, 2000, 3001]).processGroups == [2000, 3000, 3001])
    #expect(SpecBuilder.ResolvedUser(uid: 0, gid: 0).processGroups == [0])
  }
}
