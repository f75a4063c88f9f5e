# Every dependency comes from Debian 12 packages (deploy/install-deps.sh).
find_package(Threads REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(RocksDB CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBVIRT REQUIRED IMPORTED_TARGET libvirt)
# virDomainQemuMonitorCommand: encrypted EBS disks over QMP (agent/hypervisor/ebs_crypt_qmp.h).
pkg_check_modules(LIBVIRT_QEMU REQUIRED IMPORTED_TARGET libvirt-qemu)

# The controller's allocator: tcmalloc_minimal (libgoogle-perftools-dev) when found. RunInstances
# allocates and frees dozens of small strings and messages per instance under the state lock;
# glibc's malloc took ~8% of its CPU (docs/PERFORMANCE.md, "Service path"). Linked into
# minicloud-controller and bench_placement (which runs the controller's path as shipped) through
# minicloud_allocator; off with the sanitizers (ASan brings its own allocator).
pkg_check_modules(TCMALLOC_MINIMAL IMPORTED_TARGET libtcmalloc_minimal)
include(CMakeDependentOption)
cmake_dependent_option(MINICLOUD_TCMALLOC
  "Link the controller with tcmalloc_minimal (default ON when found)" ON
  "TCMALLOC_MINIMAL_FOUND;NOT MINICLOUD_SANITIZE" OFF)
add_library(minicloud_allocator INTERFACE)
if(MINICLOUD_TCMALLOC)
  target_link_libraries(minicloud_allocator INTERFACE PkgConfig::TCMALLOC_MINIMAL)
  message(STATUS "controller allocator: tcmalloc_minimal ${TCMALLOC_MINIMAL_VERSION}")
else()
  message(STATUS "controller allocator: the C library's malloc")
endif()
