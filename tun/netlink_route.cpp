// tun/netlink_route.cpp — route lookups for the automatic MTU (wg-quick's set_mtu_up reads
// `ip route get ENDPOINT` and `ip route show default`; these are the same questions asked over
// rtnetlink). Kept apart from tun/netlink.cpp, which changes the system; these only read.
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "tun/netlink.hpp"

namespace wg::tun {

namespace {

constexpr size_t kDumpBufLen = 32768;  // MNL_SOCKET_DUMP_SIZE: a dump's datagrams can be this big

// What a route message says about the path: the output device and the mtu metric (0: none).
struct RoutePath {
  bool seen = false;
  uint32_t oif = 0;
  uint32_t mtu = 0;
};

int route_attr_cb(const nlattr* a, void* data) {
  auto** tb = static_cast<const nlattr**>(data);
  if (mnl_attr_type_valid(a, RTA_MAX) < 0) return MNL_CB_OK;
  tb[mnl_attr_get_type(a)] = a;
  return MNL_CB_OK;
}

int metric_cb(const nlattr* a, void* data) {
  if (mnl_attr_get_type(a) == RTAX_MTU && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
    *static_cast<uint32_t*>(data) = mnl_attr_get_u32(a);
  return MNL_CB_OK;
}

// The table a route message belongs to: RTA_TABLE when present (numbers above 255 need it).
uint32_t table_of(const rtmsg* rtm, const nlattr* const* tb) {
  return tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
}

RoutePath path_of(const nlattr* const* tb) {
  RoutePath p;
  p.seen = true;
  if (tb[RTA_OIF]) {
    p.oif = mnl_attr_get_u32(tb[RTA_OIF]);
  } else if (tb[RTA_MULTIPATH] && mnl_attr_get_payload_len(tb[RTA_MULTIPATH]) >= sizeof(rtnexthop)) {
    // `ip` prints the nexthops in order; wg-quick's `dev (\S+)` takes the first one's device.
    p.oif = static_cast<const rtnexthop*>(mnl_attr_get_payload(tb[RTA_MULTIPATH]))->rtnh_ifindex;
  }
  if (tb[RTA_METRICS]) mnl_attr_parse_nested(tb[RTA_METRICS], metric_cb, &p.mtu);
  return p;
}

// `ip route get`: the one RTM_NEWROUTE answer.
int got_route_cb(const nlmsghdr* nlh, void* data) {
  if (nlh->nlmsg_type != RTM_NEWROUTE) return MNL_CB_OK;
  const nlattr* tb[RTA_MAX + 1] = {};
  mnl_attr_parse(nlh, sizeof(rtmsg), route_attr_cb, tb);
  *static_cast<RoutePath*>(data) = path_of(tb);
  return MNL_CB_OK;
}

// `ip route show default`: the first IPv4 main-table route with prefix length 0 in the dump.
int default_route_cb(const nlmsghdr* nlh, void* data) {
  auto* out = static_cast<RoutePath*>(data);
  if (nlh->nlmsg_type != RTM_NEWROUTE || out->seen) return MNL_CB_OK;
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  if (rtm->rtm_family != AF_INET || rtm->rtm_dst_len != 0) return MNL_CB_OK;
  const nlattr* tb[RTA_MAX + 1] = {};
  mnl_attr_parse(nlh, sizeof(rtmsg), route_attr_cb, tb);
  if (table_of(rtm, tb) != RT_TABLE_MAIN) return MNL_CB_OK;
  *out = path_of(tb);
  return MNL_CB_OK;
}

// wg-quick's `mtu (\d+)` from the route, else `dev X` and X's MTU.
std::optional<uint32_t> path_mtu(Netlink& nl, const RoutePath& path) {
  if (path.mtu != 0) return path.mtu;
  if (path.oif == 0) return std::nullopt;
  const LinkState link = nl.get_link(static_cast<int>(path.oif));
  return link.exists && link.mtu != 0 ? std::optional<uint32_t>(link.mtu) : std::nullopt;
}

}  // namespace

int Netlink::exchange(void* buf, int (*cb)(const nlmsghdr*, void*), void* data) {
  if (!nl_) return -ENOTSUP;
  auto* nlh = static_cast<nlmsghdr*>(buf);
  nlh->nlmsg_flags |= NLM_F_REQUEST;
  nlh->nlmsg_seq = seq_++;
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return -errno;
  alignas(nlmsghdr) static thread_local char reply[kDumpBufLen];
  for (int i = 0; i < 4096; ++i) {  // bounded: a main table of a few hundred thousand routes
    const ssize_t n = mnl_socket_recvfrom(nl_, reply, sizeof(reply));
    if (n < 0) return -errno;
    const int rc = mnl_cb_run(reply, static_cast<size_t>(n), nlh->nlmsg_seq, portid_, cb, data);
    if (rc == MNL_CB_STOP) return 0;
    if (rc < 0) return -errno;
  }
  return -ETIMEDOUT;
}

std::optional<uint32_t> Netlink::route_mtu(const core::Endpoint& to) {
  if (!to.valid()) return std::nullopt;
  alignas(nlmsghdr) char buf[512];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETROUTE;
  nlh->nlmsg_flags = NLM_F_ACK;  // the answer, then the ack that ends the exchange
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = to.family == core::Family::V4 ? AF_INET : AF_INET6;
  rtm->rtm_dst_len = static_cast<uint8_t>(to.addr_len() * 8);
  mnl_attr_put(nlh, RTA_DST, to.addr_len(), to.addr.data());
  if (to.family == core::Family::V6 && to.scope_id != 0) mnl_attr_put_u32(nlh, RTA_OIF, to.scope_id);
  RoutePath path;
  if (exchange(buf, got_route_cb, &path) != 0 || !path.seen) return std::nullopt;
  return path_mtu(*this, path);
}

std::optional<uint32_t> Netlink::default_route_mtu() {
  alignas(nlmsghdr) char buf[512];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETROUTE;
  nlh->nlmsg_flags = NLM_F_DUMP;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_INET;
  RoutePath path;
  if (exchange(buf, default_route_cb, &path) != 0 || !path.seen) return std::nullopt;
  return path_mtu(*this, path);
}

}  // namespace wg::tun
