// The protocols of the UEFI Driver Model a driver installs or uses, declared from the UEFI
// specification's layouts: EFI_DRIVER_BINDING_PROTOCOL (Supported/Start/Stop),
// EFI_COMPONENT_NAME2_PROTOCOL (the names `drivers` and `dh` show) and
// EFI_LOADED_IMAGE_PROTOCOL (where a driver puts its Unload function).
#pragma once

#include <cstddef>
#include <cstdint>

#include "fbnic/bare/uefi/efi.hpp"

namespace fbnic::bare::uefi {

inline constexpr Guid kDriverBindingProtocolGuid{
    0x18A0'31AB, 0xB443, 0x4D1A, {0xA5, 0xC0, 0x0C, 0x09, 0x26, 0x1E, 0x9F, 0x71}};
inline constexpr Guid kComponentName2ProtocolGuid{
    0x6A7A'5CFF, 0xE8D9, 0x4F70, {0xBA, 0xDA, 0x75, 0xAB, 0x30, 0x25, 0xCE, 0x14}};
inline constexpr Guid kLoadedImageProtocolGuid{
    0x5B1B'31A1, 0x9562, 0x11D2, {0x8E, 0x3F, 0x00, 0xA0, 0xC9, 0x69, 0x72, 0x3B}};

struct DevicePath;

struct DriverBinding {  // EFI_DRIVER_BINDING_PROTOCOL
  Status(FBNIC_EFIAPI* supported)(DriverBinding* self, Handle controller,
                                  DevicePath* remaining_device_path);
  Status(FBNIC_EFIAPI* start)(DriverBinding* self, Handle controller,
                              DevicePath* remaining_device_path);
  Status(FBNIC_EFIAPI* stop)(DriverBinding* self, Handle controller,
                             std::uintptr_t number_of_children, Handle* child_handle_buffer);
  std::uint32_t version;
  Handle image_handle;
  Handle driver_binding_handle;
};

struct ComponentName2 {  // EFI_COMPONENT_NAME2_PROTOCOL
  Status(FBNIC_EFIAPI* get_driver_name)(ComponentName2* self, const char* language,
                                        const char16_t** driver_name);
  Status(FBNIC_EFIAPI* get_controller_name)(ComponentName2* self, Handle controller, Handle child,
                                            const char* language, const char16_t** controller_name);
  const char* supported_languages;  // RFC 4646 tags, ';'-separated
};

struct LoadedImage {  // EFI_LOADED_IMAGE_PROTOCOL
  std::uint32_t revision;
  Handle parent_handle;
  SystemTable* system_table;
  Handle device_handle;
  DevicePath* file_path;
  void* reserved;
  std::uint32_t load_options_size;
  void* load_options;
  void* image_base;
  std::uint64_t image_size;
  MemoryType image_code_type;
  MemoryType image_data_type;
  Status(FBNIC_EFIAPI* unload)(Handle image_handle);
};

static_assert(sizeof(void*) != 8 || offsetof(DriverBinding, version) == 0x18);
static_assert(sizeof(void*) != 8 || offsetof(LoadedImage, unload) == 0x58);

}  // namespace fbnic::bare::uefi
