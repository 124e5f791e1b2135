#define _GNU_SOURCE
#include "cnetlink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>

struct stats_request {
  const char *path;
  struct crisp_link_stats *out;
  int capacity;
  int result;
};

static void *stats_thread(void *argument) {
  struct stats_request *request = argument;
  int fd = open(request->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    request->result = -errno;
    return NULL;
  }
  // Only this thread joins the pod's namespace; it ends right after.
  if (setns(fd, CLONE_NEWNET) < 0) {
    request->result = -errno;
    close(fd);
    return NULL;
  }
  close(fd);
  struct nl_sock *sock = nl_socket_alloc();
  if (!sock) {
    request->result = -ENOMEM;
    return NULL;
  }
  struct nl_cache *cache = NULL;
  int err = nl_connect(sock, NETLINK_ROUTE);
  if (err == 0) err = rtnl_link_alloc_cache(sock, AF_UNSPEC, &cache);
  if (err < 0) {
    request->result = -EIO;
    nl_socket_free(sock);
    return NULL;
  }
  int count = 0;
  for (struct nl_object *object = nl_cache_get_first(cache); object; object = nl_cache_get_next(object)) {
    struct rtnl_link *link = (struct rtnl_link *)object;
    if (count < request->capacity) {
      struct crisp_link_stats *entry = &request->out[count];
      memset(entry, 0, sizeof(*entry));
      const char *name = rtnl_link_get_name(link);
      if (name) strncpy(entry->name, name, sizeof(entry->name) - 1);
      entry->rx_bytes = rtnl_link_get_stat(link, RTNL_LINK_RX_BYTES);
      entry->rx_errors = rtnl_link_get_stat(link, RTNL_LINK_RX_ERRORS);
      entry->tx_bytes = rtnl_link_get_stat(link, RTNL_LINK_TX_BYTES);
      entry->tx_errors = rtnl_link_get_stat(link, RTNL_LINK_TX_ERRORS);
    }
    count++;
  }
  nl_cache_free(cache);
  nl_socket_free(sock);
  request->result = count;
  return NULL;
}

int crisp_netns_link_stats(const char *netns_path, struct crisp_link_stats *out, int capacity) {
  struct stats_request request = {.path = netns_path, .out = out, .capacity = capacity, .result = 0};
  pthread_t thread;
  int created = pthread_create(&thread, NULL, stats_thread, &request);
  if (created != 0) return -created;
  pthread_join(thread, NULL);
  return request.result;
}
