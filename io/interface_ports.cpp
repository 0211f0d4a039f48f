// io/interface_ports.cpp — a gateway port's life in the loop: added, removed on reload,
// detached when its veth interface is deleted and attached again when an interface of the same
// name comes back (a container restarted with a new veth pair), and a TAP that is gone.
#include <net/if.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "io/interface.hpp"

namespace wg::io {

uint32_t Interface::add_port(tun::PortDevice dev, core::PortSpec spec, std::optional<uint32_t> link_mtu) {
  if (!dev.is_tap() && links_.fd() < 0)
    std::fprintf(stderr, "wgrouter[%s]: warning: cannot follow link events (netlink); a veth port whose "
                 "interface is re-created needs a restart\n", name().c_str());
  const uint32_t id = dp_.add_port(std::move(spec));
  io_->add_port(id, dev.fd());
  if (ports_.size() <= id) {
    ports_.resize(id + 1);
    port_mtu_.resize(id + 1);
  }
  ports_[id] = std::move(dev);
  port_mtu_[id] = link_mtu;
  return id;
}

void Interface::remove_port(uint32_t id) {
  if (id >= ports_.size() || gateway().port_removed(id)) return;
  dp_.remove_port(id);  // what its coalescer holds and the writes queued for it go out first
  io_->remove_port(id);
  ports_[id] = tun::PortDevice{};  // closes it (a TAP is deleted with it)
  port_mtu_[id].reset();
}

const tun::PortDevice* Interface::port_device(uint32_t id) const {
  return id < ports_.size() && !gateway().port_removed(id) ? &ports_[id] : nullptr;
}

std::optional<uint32_t> Interface::port_link_mtu(uint32_t id) const {
  return id < port_mtu_.size() ? port_mtu_[id] : std::nullopt;
}

int Interface::set_port_link_mtu(uint32_t id, std::optional<uint32_t> mtu) {
  if (id >= ports_.size() || gateway().port_removed(id)) return -ENODEV;
  port_mtu_[id] = mtu;
  const tun::PortDevice& dev = ports_[id];
  if (!mtu || dev.fd() < 0 || !gateway().port_attached(id)) return 0;
  // A TAP handed to a VM's namespace (or renamed there) is not ours to configure any more; its
  // ifindex may even name another interface here.
  char here[IF_NAMESIZE] = {};
  if (!if_indextoname(static_cast<unsigned>(dev.ifindex()), here) || dev.name() != here) {
    std::fprintf(stderr, "wgrouter[%s]: port %s: its device was moved or renamed; its link MTU is left as it is\n",
                 name().c_str(), gateway().port_spec(id).name.c_str());
    return 0;
  }
  tun::Netlink nl;  // ports live in wgrouter's own namespace
  return nl.set_link(dev.ifindex(), std::nullopt, mtu);
}

void Interface::detach_gone_port(uint32_t id) {
  if (id >= ports_.size() || gateway().port_removed(id) || !gateway().port_attached(id)) return;
  std::fprintf(stderr, "wgrouter[%s]: port %s: its device is gone (deleted); frames to it are dropped "
               "until the port is removed, or removed and added again, by a reload\n",
               name().c_str(), gateway().port_spec(id).name.c_str());
  gateway().detach_port(id);
  io_->remove_port(id);
  ports_[id] = tun::PortDevice{};
}

void Interface::reattach_port(uint32_t id) {
  const std::string& port = gateway().port_spec(id).name;
  auto dev = tun::PortDevice::attach(port);
  if (!dev) {
    std::fprintf(stderr, "wgrouter[%s]: port %s: cannot attach again: %s\n", name().c_str(), port.c_str(),
                 dev.error().c_str());
    return;
  }
  if (!dev->warning().empty())
    std::fprintf(stderr, "wgrouter[%s]: port %s: warning: %s\n", name().c_str(), port.c_str(), dev->warning().c_str());
  // Up with the MTU it was given at start (tools/up.cpp open_port), before traffic flows.
  tun::Netlink nl;  // ports live in wgrouter's own namespace
  if (const int rc = nl.set_link(dev->ifindex(), true, port_mtu_[id]); rc != 0)
    std::fprintf(stderr, "wgrouter[%s]: port %s: link up: %s\n", name().c_str(), port.c_str(), std::strerror(-rc));
  const int old_index = ports_[id].ifindex();
  io_->replace_port(id, dev->fd());
  ports_[id] = std::move(*dev);  // the old packet socket closes here
  gateway().reattach_port(id);
  std::fprintf(stderr, "wgrouter[%s]: port %s: interface created again (ifindex %d, was %d): attached, "
               "neighbours forgotten\n", name().c_str(), port.c_str(), ports_[id].ifindex(), old_index);
}

void Interface::on_port_links(bool complete) {
  auto veth = [&](uint32_t id) { return !gateway().port_removed(id) && !gateway().port_spec(id).tap; };
  for (const tun::LinkEvents::Event& ev : link_events_) {
    if (ev.nsid != tun::LinkEvents::kThisNamespace) continue;  // ports live here
    for (uint32_t id = 0; id < ports_.size(); ++id) {
      if (!veth(id)) continue;
      if (ev.deleted && ev.ifindex == ports_[id].ifindex() && gateway().port_attached(id)) {
        std::fprintf(stderr, "wgrouter[%s]: port %s: interface deleted (ifindex %d); frames to it are dropped "
                     "until it is back\n", name().c_str(), gateway().port_spec(id).name.c_str(), ev.ifindex);
        gateway().detach_port(id);
      } else if (!ev.deleted && (ev.ifindex != ports_[id].ifindex() || !gateway().port_attached(id)) &&
                 ev.name == gateway().port_spec(id).name) {
        reattach_port(id);
      }
    }
  }
  if (!complete) {
    // Events were lost: compare each veth port's name with what it is attached to now.
    for (uint32_t id = 0; id < ports_.size(); ++id) {
      if (!veth(id)) continue;
      const int now = static_cast<int>(if_nametoindex(gateway().port_spec(id).name.c_str()));
      if (now != 0 && now != ports_[id].ifindex())
        reattach_port(id);
      else if (now == 0 && gateway().port_attached(id))
        gateway().detach_port(id);
    }
  }
}

}  // namespace wg::io
