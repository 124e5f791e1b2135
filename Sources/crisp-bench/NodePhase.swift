/// The parts of the node scenario; every call is timed under the part it was made in.
enum NodePhase: String, CaseIterable, Sendable {
  case start
  case steady
  /// After the polling, before the teardown: each stats call made alone, back to back, so its own cost
  /// shows apart from the calls kubelet fires at the same tick.
  case alone
  case teardown
}
