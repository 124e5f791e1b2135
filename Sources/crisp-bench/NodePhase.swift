/// The three parts of the node scenario; every call is timed under the part it was made in.
enum NodePhase: String, CaseIterable, Sendable {
  case start
  case steady
  case teardown
}
