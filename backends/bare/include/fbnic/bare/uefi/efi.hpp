// The UEFI ABI this adapter uses, declared from the layouts in the UEFI specification
// (2.x): status codes, GUIDs, the system table, boot and runtime services, the text console.
// Only what the adapter and its example call is typed; every other table entry is kept as
// an untyped pointer so that the layout (one pointer per service, in the specification's
// order) stays right. Names are the specification's, in this library's case style.
#pragma once

#include <cstddef>
#include <cstdint>

// UEFI functions use the Microsoft x64 calling convention on x86_64 (the default for a
// -target x86_64-unknown-windows build, and selected explicitly when a hosted test calls
// them), and the standard one elsewhere.
#if defined(__x86_64__)
#define FBNIC_EFIAPI __attribute__((ms_abi))
#else
#define FBNIC_EFIAPI
#endif

namespace fbnic::bare::uefi {

using Status = std::uintptr_t;  // EFI_STATUS (UINTN)
using Handle = void*;           // EFI_HANDLE
using Event = void*;            // EFI_EVENT
using Tpl = std::uintptr_t;     // EFI_TPL
using PhysicalAddress = std::uint64_t;
using Boolean = std::uint8_t;

inline constexpr Status kErrorBit = Status{1} << (sizeof(Status) * 8 - 1);
inline constexpr Status kSuccess = 0;
inline constexpr Status kInvalidParameter = kErrorBit | 2;
inline constexpr Status kUnsupported = kErrorBit | 3;
inline constexpr Status kBufferTooSmall = kErrorBit | 5;
inline constexpr Status kNotReady = kErrorBit | 6;
inline constexpr Status kDeviceError = kErrorBit | 7;
inline constexpr Status kOutOfResources = kErrorBit | 9;
inline constexpr Status kNoMedia = kErrorBit | 12;
inline constexpr Status kNotFound = kErrorBit | 14;
inline constexpr Status kAccessDenied = kErrorBit | 15;
inline constexpr Status kTimeout = kErrorBit | 18;
inline constexpr Status kNotStarted = kErrorBit | 19;
inline constexpr Status kAlreadyStarted = kErrorBit | 20;
inline constexpr Status kAborted = kErrorBit | 21;
constexpr bool is_error(Status s) { return (s & kErrorBit) != 0; }

inline constexpr Tpl kTplApplication = 4;
inline constexpr Tpl kTplCallback = 8;
inline constexpr Tpl kTplNotify = 16;
inline constexpr Tpl kTplHighLevel = 31;

// CreateEvent types.
inline constexpr std::uint32_t kEvtTimer = 0x8000'0000u;
inline constexpr std::uint32_t kEvtNotifyWait = 0x0000'0100u;
inline constexpr std::uint32_t kEvtNotifySignal = 0x0000'0200u;
inline constexpr std::uint32_t kEvtSignalExitBootServices = 0x0000'0201u;

// SetTimer types; times are in 100 ns units.
enum class TimerDelay : std::uint32_t { kCancel = 0, kPeriodic = 1, kRelative = 2 };

// OpenProtocol attributes.
inline constexpr std::uint32_t kOpenByHandleProtocol = 0x01;
inline constexpr std::uint32_t kOpenGetProtocol = 0x02;
inline constexpr std::uint32_t kOpenTestProtocol = 0x04;
inline constexpr std::uint32_t kOpenByChildController = 0x08;
inline constexpr std::uint32_t kOpenByDriver = 0x10;
inline constexpr std::uint32_t kOpenExclusive = 0x20;

struct Guid {  // EFI_GUID
  std::uint32_t data1;
  std::uint16_t data2;
  std::uint16_t data3;
  std::uint8_t data4[8];
};

struct TableHeader {  // EFI_TABLE_HEADER
  std::uint64_t signature;
  std::uint32_t revision;
  std::uint32_t header_size;
  std::uint32_t crc32;
  std::uint32_t reserved;
};

enum class AllocateType : std::uint32_t { kAnyPages = 0, kMaxAddress = 1, kAddress = 2 };
enum class MemoryType : std::uint32_t { kLoaderData = 2, kBootServicesData = 4 };
enum class LocateSearchType : std::uint32_t {
  kAllHandles = 0,
  kByRegisterNotify = 1,
  kByProtocol = 2
};
enum class ResetType : std::uint32_t { kCold = 0, kWarm = 1, kShutdown = 2 };

struct MemoryDescriptor;  // only passed through to ExitBootServices' memory map

using EventNotify = void(FBNIC_EFIAPI*)(Event event, void* context);

struct BootServices {  // EFI_BOOT_SERVICES
  TableHeader hdr;
  // Task priority
  Tpl(FBNIC_EFIAPI* raise_tpl)(Tpl new_tpl);
  void(FBNIC_EFIAPI* restore_tpl)(Tpl old_tpl);
  // Memory
  Status(FBNIC_EFIAPI* allocate_pages)(AllocateType type, MemoryType memory_type,
                                       std::uintptr_t pages, PhysicalAddress* memory);
  Status(FBNIC_EFIAPI* free_pages)(PhysicalAddress memory, std::uintptr_t pages);
  Status(FBNIC_EFIAPI* get_memory_map)(std::uintptr_t* memory_map_size, MemoryDescriptor* map,
                                       std::uintptr_t* map_key, std::uintptr_t* descriptor_size,
                                       std::uint32_t* descriptor_version);
  Status(FBNIC_EFIAPI* allocate_pool)(MemoryType pool_type, std::uintptr_t size, void** buffer);
  Status(FBNIC_EFIAPI* free_pool)(void* buffer);
  // Events and timers
  Status(FBNIC_EFIAPI* create_event)(std::uint32_t type, Tpl notify_tpl, EventNotify notify,
                                     void* notify_context, Event* event);
  Status(FBNIC_EFIAPI* set_timer)(Event event, TimerDelay type, std::uint64_t trigger_time);
  Status(FBNIC_EFIAPI* wait_for_event)(std::uintptr_t number_of_events, Event* event,
                                       std::uintptr_t* index);
  Status(FBNIC_EFIAPI* signal_event)(Event event);
  Status(FBNIC_EFIAPI* close_event)(Event event);
  Status(FBNIC_EFIAPI* check_event)(Event event);
  // Protocol handlers
  Status(FBNIC_EFIAPI* install_protocol_interface)(Handle* handle, const Guid* protocol,
                                                   std::uint32_t interface_type, void* interface);
  void* reinstall_protocol_interface;
  Status(FBNIC_EFIAPI* uninstall_protocol_interface)(Handle handle, const Guid* protocol,
                                                     void* interface);
  Status(FBNIC_EFIAPI* handle_protocol)(Handle handle, const Guid* protocol, void** interface);
  void* reserved;
  void* register_protocol_notify;
  void* locate_handle;
  void* locate_device_path;
  void* install_configuration_table;
  // Images
  void* load_image;
  void* start_image;
  void* exit;
  Status(FBNIC_EFIAPI* unload_image)(Handle image_handle);
  Status(FBNIC_EFIAPI* exit_boot_services)(Handle image_handle, std::uintptr_t map_key);
  // Miscellaneous
  void* get_next_monotonic_count;
  Status(FBNIC_EFIAPI* stall)(std::uintptr_t microseconds);
  Status(FBNIC_EFIAPI* set_watchdog_timer)(std::uintptr_t timeout, std::uint64_t watchdog_code,
                                           std::uintptr_t data_size, char16_t* watchdog_data);
  // Driver support
  Status(FBNIC_EFIAPI* connect_controller)(Handle controller, Handle* driver_image,
                                           void* remaining_device_path, Boolean recursive);
  Status(FBNIC_EFIAPI* disconnect_controller)(Handle controller, Handle driver_image, Handle child);
  // Open and close protocol
  Status(FBNIC_EFIAPI* open_protocol)(Handle handle, const Guid* protocol, void** interface,
                                      Handle agent, Handle controller, std::uint32_t attributes);
  Status(FBNIC_EFIAPI* close_protocol)(Handle handle, const Guid* protocol, Handle agent,
                                       Handle controller);
  void* open_protocol_information;
  // Library
  void* protocols_per_handle;
  Status(FBNIC_EFIAPI* locate_handle_buffer)(LocateSearchType search_type, const Guid* protocol,
                                             void* search_key, std::uintptr_t* no_handles,
                                             Handle** buffer);
  Status(FBNIC_EFIAPI* locate_protocol)(const Guid* protocol, void* registration, void** interface);
  void* install_multiple_protocol_interfaces;
  void* uninstall_multiple_protocol_interfaces;
  // 32-bit CRC
  void* calculate_crc32;
  // Miscellaneous
  void* copy_mem;
  void* set_mem;
  void* create_event_ex;
};

struct RuntimeServices {  // EFI_RUNTIME_SERVICES
  TableHeader hdr;
  void* get_time;
  void* set_time;
  void* get_wakeup_time;
  void* set_wakeup_time;
  void* set_virtual_address_map;
  void* convert_pointer;
  void* get_variable;
  void* get_next_variable_name;
  void* set_variable;
  void* get_next_high_monotonic_count;
  void(FBNIC_EFIAPI* reset_system)(ResetType type, Status status, std::uintptr_t data_size,
                                   void* reset_data);
};

struct SimpleTextOutput {  // EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL
  void* reset;
  Status(FBNIC_EFIAPI* output_string)(SimpleTextOutput* self, const char16_t* string);
  void* test_string;
  void* query_mode;
  void* set_mode;
  void* set_attribute;
  void* clear_screen;
  void* set_cursor_position;
  void* enable_cursor;
  void* mode;
};

struct ConfigurationTable {  // EFI_CONFIGURATION_TABLE: one entry, found by its GUID
  Guid vendor_guid;
  void* vendor_table;
};

struct SystemTable {  // EFI_SYSTEM_TABLE
  TableHeader hdr;
  const char16_t* firmware_vendor;
  std::uint32_t firmware_revision;
  Handle console_in_handle;
  void* con_in;
  Handle console_out_handle;
  SimpleTextOutput* con_out;
  Handle standard_error_handle;
  SimpleTextOutput* std_err;
  RuntimeServices* runtime_services;
  BootServices* boot_services;
  std::uintptr_t number_of_table_entries;
  ConfigurationTable* configuration_table;
};

// The layouts above, checked against the specification's offsets (64-bit targets).
static_assert(sizeof(void*) != 8 || offsetof(BootServices, create_event) == 0x50);
static_assert(sizeof(void*) != 8 || offsetof(BootServices, exit_boot_services) == 0xE8);
static_assert(sizeof(void*) != 8 || offsetof(BootServices, stall) == 0xF8);
static_assert(sizeof(void*) != 8 || offsetof(BootServices, connect_controller) == 0x108);
static_assert(sizeof(void*) != 8 || offsetof(BootServices, open_protocol) == 0x118);
static_assert(sizeof(void*) != 8 || offsetof(BootServices, locate_handle_buffer) == 0x138);
static_assert(sizeof(void*) != 8 || offsetof(BootServices, create_event_ex) == 0x170);
static_assert(sizeof(void*) != 8 || offsetof(RuntimeServices, reset_system) == 0x68);
static_assert(sizeof(void*) != 8 || offsetof(SystemTable, boot_services) == 0x60);

}  // namespace fbnic::bare::uefi
