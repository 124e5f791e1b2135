#ifndef CRISP_CNETLINK_H
#define CRISP_CNETLINK_H

#include <stdint.h>

/// Counters of one network interface, as the kernel keeps them (rtnetlink link statistics).
struct crisp_link_stats {
  char name[16];
  uint64_t rx_bytes;
  uint64_t rx_errors;
  uint64_t tx_bytes;
  uint64_t tx_errors;
};

/// Reads the counters of every interface in the network namespace pinned at `netns_path` (from a
/// short-lived thread that joins the namespace, so the caller's threads never change namespace). Fills up
/// to `capacity` entries and returns how many interfaces there are, or a negative errno.
int crisp_netns_link_stats(const char *netns_path, struct crisp_link_stats *out, int capacity);

#endif
