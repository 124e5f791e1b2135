#ifndef CRISP_CNETLINK_H
#define CRISP_CNETLINK_H

#include <stdint.h>

/// Counters of one network interface, as the kernel keeps them (rtnetlink link statistics).
struct crisp_link_stats {
  char name[16];
  int32_t index;
  uint64_t rx_bytes;
  uint64_t rx_errors;
  uint64_t tx_bytes;
  uint64_t tx_errors;
};

/// Reads the counters of every interface in the network namespace pinned at `netns_path` (from a
/// short-lived thread that joins the namespace, so the caller's threads never change namespace). Fills up
/// to `capacity` entries and returns how many interfaces there are, or a negative errno.
int crisp_netns_link_stats(const char *netns_path, struct crisp_link_stats *out, int capacity);

/// Opens a NETLINK_ROUTE socket in the caller's network namespace, bound to a kernel-chosen port, with a
/// receive timeout of `timeout_ms` (a reply that never comes fails with EAGAIN instead of blocking a
/// thread). Returns the descriptor or a negative errno.
int crisp_rtnl_open(int timeout_ms);

/// Sends an RTM_GETLINK dump request (every link of the socket's namespace, with its counters).
/// Returns 0 or a negative errno.
int crisp_rtnl_request_links(int fd, uint32_t sequence);

/// Sends an RTM_GETSTATS dump request for every link's 64-bit counters alone (IFLA_STATS_LINK_64): the
/// kernel fills a few hundred bytes per link instead of a whole link description. Returns 0 or a
/// negative errno.
int crisp_rtnl_request_link_counters(int fd, uint32_t sequence);

/// Sends an RTM_GETNSID request for the network namespace open at `netns_fd`: the id the socket's
/// namespace gives it (what IFLA_LINK_NETNSID names it by). Returns 0 or a negative errno.
int crisp_rtnl_request_nsid(int fd, uint32_t sequence, int netns_fd);

/// Receives one datagram into `buffer`. Returns its length, -EMSGSIZE when it did not fit (never a
/// silently cut message), or a negative errno.
long crisp_rtnl_receive(int fd, void *buffer, unsigned long capacity);

#endif
