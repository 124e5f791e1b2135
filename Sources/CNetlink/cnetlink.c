#define _GNU_SOURCE
#include "cnetlink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>

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
      entry->index = rtnl_link_get_ifindex(link);
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

int crisp_rtnl_open(int timeout_ms) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -errno;
  struct timeval timeout = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) < 0 ||
      bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
    int saved = errno;
    close(fd);
    return -saved;
  }
  return fd;
}

static int send_request(int fd, const void *request, size_t length) {
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t sent;
  do {
    sent = sendto(fd, request, length, 0, (struct sockaddr *)&kernel, sizeof(kernel));
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return -errno;
  return (size_t)sent == length ? 0 : -EIO;
}

int crisp_rtnl_request_links(int fd, uint32_t sequence) {
  struct {
    struct nlmsghdr header;
    struct ifinfomsg link;
  } request;
  memset(&request, 0, sizeof(request));
  request.header.nlmsg_len = sizeof(request);
  request.header.nlmsg_type = RTM_GETLINK;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = sequence;
  request.link.ifi_family = AF_UNSPEC;
  return send_request(fd, &request, sizeof(request));
}

int crisp_rtnl_request_link_counters(int fd, uint32_t sequence) {
  struct {
    struct nlmsghdr header;
    struct if_stats_msg stats;
  } request;
  memset(&request, 0, sizeof(request));
  request.header.nlmsg_len = sizeof(request);
  request.header.nlmsg_type = RTM_GETSTATS;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = sequence;
  request.stats.family = AF_UNSPEC;
  request.stats.filter_mask = IFLA_STATS_FILTER_BIT(IFLA_STATS_LINK_64);
  return send_request(fd, &request, sizeof(request));
}

int crisp_rtnl_request_nsid(int fd, uint32_t sequence, int netns_fd) {
  struct {
    struct nlmsghdr header;
    struct rtgenmsg family;
    char pad[3];
    struct nlattr attribute;
    uint32_t value;
  } request;
  memset(&request, 0, sizeof(request));
  request.header.nlmsg_len = sizeof(request);
  request.header.nlmsg_type = RTM_GETNSID;
  request.header.nlmsg_flags = NLM_F_REQUEST;
  request.header.nlmsg_seq = sequence;
  request.family.rtgen_family = AF_UNSPEC;
  request.attribute.nla_len = sizeof(request.attribute) + sizeof(request.value);
  request.attribute.nla_type = NETNSA_FD;
  request.value = (uint32_t)netns_fd;
  return send_request(fd, &request, sizeof(request));
}

long crisp_rtnl_receive(int fd, void *buffer, unsigned long capacity) {
  ssize_t received;
  do {
    received = recv(fd, buffer, capacity, MSG_TRUNC);
  } while (received < 0 && errno == EINTR);
  if (received < 0) return -errno;
  if ((unsigned long)received > capacity) return -EMSGSIZE;
  return received;
}
