// What `fbnic-emu qemu ... -- QEMU-COMMAND` does to the QEMU command line before starting
// it: finds the placeholders, substitutes them, and checks that guest RAM is shared (the
// device's DMA needs it).
//
//   @FDn@        the QEMU end of NIC n's socket (x-pci-proxy-dev's fd=)
//   @DOORBELLn@  the socket path of NIC n's ivshmem server (a -chardev socket,path=)
//   @FD@, @DOORBELL@  the same for NIC 0, when there is only one NIC
//
// n is 0 to kMaxNics - 1; NICs are numbered by their @FDn@ and each appears once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fbnic::emu::qemu {

inline constexpr std::size_t kMaxNics = 8;

struct Plan {
  std::size_t nics = 0;
  std::vector<bool> doorbell;  // per NIC: a @DOORBELLn@ asks for an ivshmem server
};

namespace detail {

// Calls f(begin, length, kind, index) for every placeholder in arg; index -1 = unnumbered.
// Returns false (with error) for an '@FD...@'-like token it cannot read.
template <class F>
bool scan(std::string_view arg, std::string& error, F&& f) {
  std::size_t at = 0;
  while ((at = arg.find('@', at)) != std::string_view::npos) {
    const std::size_t end = arg.find('@', at + 1);
    if (end == std::string_view::npos) break;
    const std::string_view token = arg.substr(at + 1, end - at - 1);
    std::string_view kind;
    for (std::string_view k : {std::string_view("DOORBELL"), std::string_view("FD")}) {
      if (token.starts_with(k)) {
        kind = k;
        break;
      }
    }
    if (kind.empty()) {
      at = end;  // '@' that is not ours (e.g. in a path): skip to the next one
      continue;
    }
    const std::string_view digits = token.substr(kind.size());
    int index = -1;
    if (!digits.empty()) {
      if (digits.size() > 1 || digits[0] < '0' || digits[0] > '9' ||
          static_cast<std::size_t>(digits[0] - '0') >= kMaxNics) {
        error = "placeholder @" + std::string(token) + "@: the NIC number must be 0 to " +
                std::to_string(kMaxNics - 1);
        return false;
      }
      index = digits[0] - '0';
    }
    f(at, end - at + 1, kind, index);
    at = end + 1;
  }
  return true;
}

}  // namespace detail

// Finds the NICs and doorbells the command line asks for. error says what is wrong.
inline bool plan(const std::vector<std::string>& args, Plan& out, std::string& error) {
  out = {};
  std::vector<int> fd_uses(kMaxNics, 0);
  std::vector<bool> bells(kMaxNics, false);
  int unnumbered_fd = 0;
  bool unnumbered_bell = false;
  bool numbered = false;
  for (const std::string& a : args) {
    const bool ok =
        detail::scan(a, error, [&](std::size_t, std::size_t, std::string_view kind, int index) {
          if (index >= 0) numbered = true;
          const std::size_t i = index < 0 ? 0 : static_cast<std::size_t>(index);
          if (kind == "FD") {
            ++fd_uses[i];
            if (index < 0) ++unnumbered_fd;
          } else {
            bells[i] = true;
            if (index < 0) unnumbered_bell = true;
          }
        });
    if (!ok) return false;
  }
  std::size_t nics = 0;
  for (std::size_t i = 0; i < kMaxNics; ++i) {
    if (fd_uses[i] > 1) {
      error = "NIC " + std::to_string(i) + "'s socket appears " + std::to_string(fd_uses[i]) +
              " times (@FD" + std::to_string(i) + "@ or @FD@): one x-pci-proxy-dev per NIC";
      return false;
    }
    if (fd_uses[i] == 1) nics = i + 1;
  }
  if (nics == 0) {
    error =
        "no NIC in the QEMU command: add -device x-pci-proxy-dev,fd=@FD@ (or @FD0@, @FD1@, "
        "... for several)";
    return false;
  }
  for (std::size_t i = 0; i < nics; ++i) {
    if (fd_uses[i] == 0) {
      error = "NICs are numbered from 0 without gaps: @FD" + std::to_string(i) + "@ is missing";
      return false;
    }
  }
  if ((unnumbered_fd > 0 || unnumbered_bell) && (nics > 1 || numbered)) {
    error = "with several NICs, number every placeholder (@FD0@, @FD1@, @DOORBELL1@, ...)";
    return false;
  }
  for (std::size_t i = 0; i < kMaxNics; ++i) {
    if (bells[i] && i >= nics) {
      error = "@DOORBELL" + std::to_string(i) + "@ names a NIC the command line has no @FD" +
              std::to_string(i) + "@ for";
      return false;
    }
  }
  out.nics = nics;
  out.doorbell.assign(bells.begin(), bells.begin() + static_cast<std::ptrdiff_t>(nics));
  return true;
}

// The command line with every placeholder replaced: fds[n] for @FDn@, paths[n] for
// @DOORBELLn@ (call after plan() succeeded).
inline std::vector<std::string> substitute(const std::vector<std::string>& args,
                                           const std::vector<int>& fds,
                                           const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  out.reserve(args.size());
  for (const std::string& a : args) {
    std::string r;
    std::size_t copied = 0;
    std::string unused;
    detail::scan(a, unused, [&](std::size_t at, std::size_t len, std::string_view kind, int index) {
      const std::size_t i = index < 0 ? 0 : static_cast<std::size_t>(index);
      r.append(a, copied, at - copied);
      if (kind == "FD") {
        r += i < fds.size() ? std::to_string(fds[i]) : std::string("-1");
      } else {
        r += i < paths.size() ? paths[i] : std::string();
      }
      copied = at + len;
    });
    r.append(a, copied, std::string::npos);
    out.push_back(std::move(r));
  }
  return out;
}

namespace detail {

// The value of key=... in a QEMU option list "a,key=value,b", or "" (a bare first element
// counts as key `first`).
inline std::string option_value(std::string_view list, std::string_view key,
                                std::string_view first = {}) {
  std::size_t at = 0;
  bool leading = true;
  while (at <= list.size()) {
    std::size_t comma = list.find(',', at);
    if (comma == std::string_view::npos) comma = list.size();
    const std::string_view item = list.substr(at, comma - at);
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      if (leading && !first.empty() && key == first) return std::string(item);
    } else if (item.substr(0, eq) == key) {
      return std::string(item.substr(eq + 1));
    }
    leading = false;
    at = comma + 1;
  }
  return {};
}

}  // namespace detail

// Empty when guest RAM is a shared, fd-backed memory backend that the machine uses;
// otherwise what is missing and how to add it.
inline std::string shared_memory_problem(const std::vector<std::string>& args) {
  std::vector<std::string> shared_ids;
  std::vector<std::string> used_ids;
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    std::string_view opt = args[i];
    if (opt.starts_with("--")) opt.remove_prefix(1);
    const std::string_view value = args[i + 1];
    if (opt == "-object") {
      const std::string type = detail::option_value(value, "qom-type", "qom-type");
      const std::string share = detail::option_value(value, "share");
      const std::string id = detail::option_value(value, "id");
      // memfd is shared unless told otherwise; a file only with share=on.
      const bool shared = (type == "memory-backend-memfd" && share != "off") ||
                          (type == "memory-backend-file" && share == "on");
      if (shared && !id.empty()) shared_ids.push_back(id);
    } else if (opt == "-machine" || opt == "-M") {
      const std::string id = detail::option_value(value, "memory-backend");
      if (!id.empty()) used_ids.push_back(id);
    } else if (opt == "-numa") {
      const std::string id = detail::option_value(value, "memdev");
      if (!id.empty()) used_ids.push_back(id);
    }
  }
  for (const std::string& u : used_ids) {
    for (const std::string& s : shared_ids) {
      if (u == s) return {};
    }
  }
  return "QEMU's guest RAM is not shared with fbnic-emu, so the device cannot reach guest "
         "memory (DMA): QEMU gives its RAM to the device process only from a shared, "
         "fd-backed memory backend. Add `-object memory-backend-memfd,id=mem,size=SIZE,share=on "
         "-machine q35,memory-backend=mem` with SIZE equal to -m, or pass --no-dma to run "
         "without DMA (enumeration and register access only).";
}

}  // namespace fbnic::emu::qemu
