// tun/netlink.cpp — message construction for the few rtnetlink requests wgrouter makes.
#include "tun/netlink.hpp"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

#include "tun/netns.hpp"

namespace wg::tun {

namespace {

constexpr size_t kBufLen = 8192;  // MNL_SOCKET_BUFFER_SIZE is at least this

uint8_t af_of(core::Family f) { return f == core::Family::V4 ? AF_INET : AF_INET6; }

int attr_cb(const nlattr* a, void* data) {
  auto** tb = static_cast<const nlattr**>(data);
  const int type = mnl_attr_get_type(a);
  if (mnl_attr_type_valid(a, IFLA_MAX) < 0) return MNL_CB_OK;
  tb[type] = a;
  return MNL_CB_OK;
}

// Fills state (and the name, when asked) from one RTM_NEWLINK/RTM_DELLINK message.
void parse_link(const nlmsghdr* nlh, int& ifindex, LinkState& st, bool& deleted, std::string* name = nullptr) {
  const auto* ifm = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  const nlattr* tb[IFLA_MAX + 1] = {};
  mnl_attr_parse(nlh, sizeof(*ifm), attr_cb, tb);
  if (name && tb[IFLA_IFNAME] && mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) == 0)
    *name = mnl_attr_get_str(tb[IFLA_IFNAME]);
  ifindex = ifm->ifi_index;
  deleted = nlh->nlmsg_type == RTM_DELLINK;
  st.exists = !deleted;
  st.up = (ifm->ifi_flags & IFF_UP) != 0;
  if (tb[IFLA_MTU]) st.mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
}

}  // namespace

Netlink::Netlink(int netns_fd) {
  in_netns(netns_fd, [&] { nl_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC); });
  if (nl_ && mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
    mnl_socket_close(nl_);
    nl_ = nullptr;
  }
  if (nl_) portid_ = mnl_socket_get_portid(nl_);
}

Netlink::~Netlink() {
  if (nl_) mnl_socket_close(nl_);
}

int Netlink::request(void* buf) {
  if (!nl_) return -ENOTSUP;
  auto* nlh = static_cast<nlmsghdr*>(buf);
  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = seq_++;
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return -errno;
  char reply[kBufLen];
  for (int i = 0; i < 64; ++i) {  // the ack is the next message for our sequence number
    const ssize_t n = mnl_socket_recvfrom(nl_, reply, sizeof(reply));
    if (n < 0) return -errno;
    const int rc = mnl_cb_run(reply, static_cast<size_t>(n), nlh->nlmsg_seq, portid_, nullptr, nullptr);
    if (rc == MNL_CB_STOP) return 0;
    if (rc < 0) return -errno;
  }
  return -ETIMEDOUT;
}

int Netlink::set_link(int ifindex, std::optional<bool> up, std::optional<uint32_t> mtu) {
  alignas(nlmsghdr) char buf[kBufLen];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWLINK;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = ifindex;
  if (up) {
    ifm->ifi_change = IFF_UP;
    ifm->ifi_flags = *up ? IFF_UP : 0;
  }
  if (mtu) mnl_attr_put_u32(nlh, IFLA_MTU, *mtu);
  return request(buf);
}

bool Netlink::query_link(char* buf, int ifindex, const char* name, int target_nsid) {
  if (!nl_) return false;
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = seq_++;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = ifindex;
  if (name) mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  if (target_nsid >= 0) mnl_attr_put_u32(nlh, IFLA_TARGET_NETNSID, static_cast<uint32_t>(target_nsid));
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return false;
  const ssize_t n = mnl_socket_recvfrom(nl_, buf, kBufLen);
  if (n <= 0) return false;
  auto* reply = reinterpret_cast<nlmsghdr*>(buf);
  return mnl_nlmsg_ok(reply, static_cast<int>(n)) && reply->nlmsg_type == RTM_NEWLINK;
}

LinkState Netlink::get_link(int ifindex, int target_nsid) {
  LinkState st;
  alignas(nlmsghdr) char buf[kBufLen];
  if (!query_link(buf, ifindex, nullptr, target_nsid)) return st;
  int idx = 0;
  bool deleted = false;
  parse_link(reinterpret_cast<nlmsghdr*>(buf), idx, st, deleted);
  return st;
}

int Netlink::find_link(const std::string& name, int target_nsid) {
  if (name.empty() || name.size() >= IFNAMSIZ) return 0;
  alignas(nlmsghdr) char buf[kBufLen];
  if (!query_link(buf, 0, name.c_str(), target_nsid)) return 0;
  return static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(reinterpret_cast<nlmsghdr*>(buf)))->ifi_index;
}

int Netlink::move_link(int ifindex, int netns_fd) {
  alignas(nlmsghdr) char buf[kBufLen];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWLINK;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = ifindex;
  mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(netns_fd));
  return request(buf);
}

namespace {
// RTM_NEWADDR / RTM_DELADDR for one address of a link, host part kept.
void put_address(nlmsghdr* nlh, bool add, int ifindex, core::Family f, const uint8_t* addr, uint8_t prefix_len) {
  nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
  if (add) nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = af_of(f);
  ifa->ifa_prefixlen = prefix_len;
  ifa->ifa_index = static_cast<uint32_t>(ifindex);
  const size_t len = f == core::Family::V4 ? 4 : 16;
  mnl_attr_put(nlh, IFA_LOCAL, len, addr);
  mnl_attr_put(nlh, IFA_ADDRESS, len, addr);
}
}  // namespace

int Netlink::add_address(int ifindex, core::Family f, const uint8_t* addr, uint8_t prefix_len) {
  alignas(nlmsghdr) char buf[kBufLen];
  put_address(mnl_nlmsg_put_header(buf), true, ifindex, f, addr, prefix_len);
  return request(buf);
}

int Netlink::del_address(int ifindex, core::Family f, const uint8_t* addr, uint8_t prefix_len) {
  alignas(nlmsghdr) char buf[kBufLen];
  put_address(mnl_nlmsg_put_header(buf), false, ifindex, f, addr, prefix_len);
  return request(buf);
}

namespace {
void put_route(nlmsghdr* nlh, int ifindex, const core::Prefix& dst, uint32_t table) {
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = af_of(dst.family);
  rtm->rtm_dst_len = dst.len;
  rtm->rtm_table = table == 0 ? uint8_t{RT_TABLE_MAIN} : table < 256 ? static_cast<uint8_t>(table) : uint8_t{RT_TABLE_UNSPEC};
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = RT_SCOPE_LINK;
  rtm->rtm_type = RTN_UNICAST;
  if (table >= 256) mnl_attr_put_u32(nlh, RTA_TABLE, table);
  mnl_attr_put(nlh, RTA_DST, dst.addr_len(), dst.addr.data());
  mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(ifindex));
}
}  // namespace

int Netlink::add_route(int ifindex, const core::Prefix& dst, uint32_t table) {
  alignas(nlmsghdr) char buf[kBufLen];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWROUTE;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
  put_route(nlh, ifindex, dst, table);
  return request(buf);
}

int Netlink::del_route(int ifindex, const core::Prefix& dst, uint32_t table) {
  alignas(nlmsghdr) char buf[kBufLen];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_DELROUTE;
  put_route(nlh, ifindex, dst, table);
  return request(buf);
}

namespace {
fib_rule_hdr* put_rule(nlmsghdr* nlh, core::Family f, bool add) {
  nlh->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
  if (add) nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  auto* frh = static_cast<fib_rule_hdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(fib_rule_hdr)));
  frh->family = af_of(f);
  frh->action = FR_ACT_TO_TBL;
  return frh;
}
}  // namespace

int Netlink::add_fwmark_rule(core::Family f, uint32_t mark, uint32_t table, bool add) {
  alignas(nlmsghdr) char buf[kBufLen];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  fib_rule_hdr* frh = put_rule(nlh, f, add);
  frh->flags = FIB_RULE_INVERT;  // "not fwmark"
  frh->table = table < 256 ? static_cast<uint8_t>(table) : uint8_t{RT_TABLE_UNSPEC};
  mnl_attr_put_u32(nlh, FRA_TABLE, table);
  mnl_attr_put_u32(nlh, FRA_FWMARK, mark);
  return request(buf);
}

int Netlink::add_suppress_rule(core::Family f, bool add) {
  alignas(nlmsghdr) char buf[kBufLen];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  fib_rule_hdr* frh = put_rule(nlh, f, add);
  frh->table = RT_TABLE_MAIN;
  mnl_attr_put_u32(nlh, FRA_TABLE, RT_TABLE_MAIN);
  mnl_attr_put_u32(nlh, FRA_SUPPRESS_PREFIXLEN, 0);
  return request(buf);
}

LinkEvents::LinkEvents() {
  nl_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (nl_ && mnl_socket_bind(nl_, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
    mnl_socket_close(nl_);
    nl_ = nullptr;
  }
  // Events of other namespaces too (those with an id here), each tagged with that id. Needs
  // CAP_NET_BROADCAST; without it only this namespace's events arrive.
  int on = 1;
  all_ns_ = nl_ && mnl_socket_setsockopt(nl_, NETLINK_LISTEN_ALL_NSID, &on, sizeof(on)) == 0;
}

LinkEvents::~LinkEvents() {
  if (nl_) mnl_socket_close(nl_);
}

int LinkEvents::fd() const { return nl_ ? mnl_socket_get_fd(nl_) : -1; }

bool LinkEvents::drain(std::vector<Event>& out) {
  out.clear();
  if (!nl_) return true;
  bool complete = true;
  alignas(nlmsghdr) char buf[16384];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  for (int i = 0; i < 256; ++i) {  // bounded: a burst of events is read over several wake-ups
    iovec iov{buf, sizeof(buf)};
    sockaddr_nl sa{};
    msghdr mh{};
    mh.msg_name = &sa;
    mh.msg_namelen = sizeof(sa);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(mnl_socket_get_fd(nl_), &mh, MSG_DONTWAIT);
    if (n < 0 && errno == ENOBUFS) {  // the kernel dropped messages; more may follow
      complete = false;
      continue;
    }
    if (n <= 0) break;
    if (sa.nl_pid != 0) continue;  // only the kernel speaks here
    // Which namespace the message is about: the id it has here, or this namespace.
    int nsid = kThisNamespace;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
      if (cm->cmsg_level == SOL_NETLINK && cm->cmsg_type == NETLINK_LISTEN_ALL_NSID &&
          cm->cmsg_len >= CMSG_LEN(sizeof(int)))
        std::memcpy(&nsid, CMSG_DATA(cm), sizeof(int));
    if (nsid < 0) nsid = kThisNamespace;
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf); mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) continue;
      if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifinfomsg))) continue;
      Event ev;
      ev.nsid = nsid;
      LinkState st;
      parse_link(nlh, ev.ifindex, st, ev.deleted, &ev.name);
      ev.up = st.up;
      if (st.mtu) ev.mtu = st.mtu;
      out.push_back(std::move(ev));
    }
  }
  return complete;
}

int Netlink::netns_id(int netns_fd) {
  if (!nl_) return -ENOTSUP;
  // RTM_GETNSID: 0 and the id (-1 when none is assigned), or -errno.
  auto get = [&](int& id) -> int {
    alignas(nlmsghdr) char buf[kBufLen];
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETNSID;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    nlh->nlmsg_seq = seq_++;
    auto* g = static_cast<rtgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtgenmsg)));
    g->rtgen_family = AF_UNSPEC;
    mnl_attr_put_u32(nlh, NETNSA_FD, static_cast<uint32_t>(netns_fd));
    if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return -errno;
    const ssize_t n = mnl_socket_recvfrom(nl_, buf, sizeof(buf));
    if (n <= 0) return -EIO;
    auto* reply = reinterpret_cast<nlmsghdr*>(buf);
    if (!mnl_nlmsg_ok(reply, static_cast<int>(n))) return -EIO;
    if (reply->nlmsg_type == NLMSG_ERROR) {
      const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(reply));
      return e->error ? e->error : -EIO;
    }
    if (reply->nlmsg_type != RTM_NEWNSID) return -EIO;
    const nlattr* tb[NETNSA_MAX + 1] = {};
    mnl_attr_parse(reply, sizeof(rtgenmsg), [](const nlattr* at, void* d) -> int {
      if (mnl_attr_type_valid(at, NETNSA_MAX) >= 0) static_cast<const nlattr**>(d)[mnl_attr_get_type(at)] = at;
      return MNL_CB_OK;
    }, tb);
    if (!tb[NETNSA_NSID]) return -ENOENT;
    id = static_cast<int>(mnl_attr_get_u32(tb[NETNSA_NSID]));
    return 0;
  };
  int id = -1;
  if (const int rc = get(id); rc != 0) return rc;
  if (id >= 0) return id;
  // None yet: ask for one (the kernel picks it). An id does not keep a namespace alive.
  alignas(nlmsghdr) char buf[kBufLen];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWNSID;
  auto* g = static_cast<rtgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtgenmsg)));
  g->rtgen_family = AF_UNSPEC;
  mnl_attr_put_u32(nlh, NETNSA_FD, static_cast<uint32_t>(netns_fd));
  mnl_attr_put_u32(nlh, NETNSA_NSID, static_cast<uint32_t>(-1));
  if (const int rc = request(buf); rc != 0 && rc != -EEXIST) return rc;
  if (const int rc = get(id); rc != 0) return rc;
  return id >= 0 ? id : -ENOENT;
}

}  // namespace wg::tun
