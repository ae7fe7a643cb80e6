# Install rules and the Debian package (CPack DEB), include()d by the top-level CMakeLists.txt, so
# relative paths (rules/, config/, docs/) are relative to the top-level source directory.
# Owned by packaging (packaging/README.md). `scripts/package` configures with
# -DCMAKE_INSTALL_PREFIX=/usr and runs `cpack -G DEB`; with that prefix, GNUInstallDirs puts the
# configuration in /etc (CMAKE_INSTALL_FULL_SYSCONFDIR). The daemon's own install rule is in
# daemon/CMakeLists.txt (bin -> /usr/bin/chipwatch).
include(GNUInstallDirs)
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(chipwatch_default_unit_dir "/lib/systemd/system")  # Debian 12 (bookworm) keeps units in /lib
else()
  set(chipwatch_default_unit_dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()
set(CHIPWATCH_SYSTEMD_UNIT_DIR "${chipwatch_default_unit_dir}" CACHE PATH
    "Where chipwatch.service is installed (absolute)")
set(CHIPWATCH_DEB_RELEASE 1 CACHE STRING "Debian revision of the package (the -N in 0.1.0-N)")
set(chipwatch_sysconf "${CMAKE_INSTALL_FULL_SYSCONFDIR}/chipwatch")
set(chipwatch_doc "${CMAKE_INSTALL_DATADIR}/doc/chipwatch")
set(chipwatch_pkg_src "${PROJECT_SOURCE_DIR}/packaging")
set(chipwatch_pkg_bin "${PROJECT_BINARY_DIR}/packaging")

# The default rule pack, replaced on every upgrade. Only policy files: rules/examples/ is not part
# of the pack (a directory is loaded recursively); the pack's README goes with the documentation.
install(DIRECTORY rules/ DESTINATION "${CMAKE_INSTALL_DATADIR}/chipwatch/rules"
        FILES_MATCHING PATTERN "*.yaml" PATTERN "*.yml" PATTERN "examples" EXCLUDE)
# Opt-in watch-list seeds (config/watchlists/): shipped beside the pack, never loaded unless the
# configuration or --rules names them (rules/README.md).
install(DIRECTORY config/watchlists/ DESTINATION "${CMAKE_INSTALL_DATADIR}/chipwatch/watchlists"
        FILES_MATCHING PATTERN "*.yaml")
# The configuration (a conffile). postinst makes it root:chipwatch 0640 (dpkg-statoverride).
install(FILES config/chipwatch.yaml DESTINATION "${chipwatch_sysconf}")
# The operators' rules directory: only its README is packaged (a conffile); upgrades never touch
# the operators' files beside it.
install(FILES "${chipwatch_pkg_src}/debian/rules.d-README" DESTINATION "${chipwatch_sysconf}/rules.d"
        RENAME README)
install(FILES "${chipwatch_pkg_src}/systemd/chipwatch.service"
        DESTINATION "${CHIPWATCH_SYSTEMD_UNIT_DIR}")

# Documentation: DEP-5 copyright, compressed Debian changelog and man page (gzip -9n: no
# timestamps, reproducible), READMEs, the reference docs and examples.
set(chipwatch_gz_outputs)
foreach(pair "debian/changelog:changelog.Debian.gz" "debian/chipwatch.1:chipwatch.1.gz")
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 src)
  list(GET pair 1 out)
  add_custom_command(OUTPUT "${chipwatch_pkg_bin}/${out}"
                     COMMAND sh -c "gzip -9n -c '${chipwatch_pkg_src}/${src}' > '${chipwatch_pkg_bin}/${out}'"
                     DEPENDS "${chipwatch_pkg_src}/${src}" VERBATIM)
  list(APPEND chipwatch_gz_outputs "${chipwatch_pkg_bin}/${out}")
endforeach()
file(MAKE_DIRECTORY "${chipwatch_pkg_bin}")
add_custom_target(chipwatch_package_docs ALL DEPENDS ${chipwatch_gz_outputs})
install(FILES "${chipwatch_pkg_src}/debian/copyright" "${chipwatch_pkg_bin}/changelog.Debian.gz"
              README.md DESTINATION "${chipwatch_doc}")
install(FILES "${chipwatch_pkg_src}/README.md" DESTINATION "${chipwatch_doc}" RENAME README.Debian)
install(DIRECTORY docs/ DESTINATION "${chipwatch_doc}/docs"
        FILES_MATCHING PATTERN "*.md" PATTERN "*.yaml" PATTERN "*.csv")
install(FILES rules/README.md DESTINATION "${chipwatch_doc}/rules")
install(FILES config/directory.example.csv DESTINATION "${chipwatch_doc}/examples" OPTIONAL)
# Lintian overrides, each with its reason (packaging/debian/chipwatch.lintian-overrides).
install(FILES "${chipwatch_pkg_src}/debian/chipwatch.lintian-overrides"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/lintian/overrides" RENAME chipwatch)
install(FILES "${chipwatch_pkg_bin}/chipwatch.1.gz" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")

# The package version is the project's; the Debian changelog's top entry must match it.
file(STRINGS "${chipwatch_pkg_src}/debian/changelog" chipwatch_changelog_top LIMIT_COUNT 1)
set(chipwatch_deb_version "${PROJECT_VERSION}-${CHIPWATCH_DEB_RELEASE}")
if(NOT chipwatch_changelog_top MATCHES "^chipwatch \\(${chipwatch_deb_version}\\) ")
  message(WARNING "packaging/debian/changelog does not start with version ${chipwatch_deb_version}: "
                  "add an entry (lintian checks that it matches the package)")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME chipwatch)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_DEBIAN_PACKAGE_RELEASE "${CHIPWATCH_DEB_RELEASE}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # chipwatch_<version>-<release>_<arch>.deb
# Install into a staging DESTDIR: absolute destinations (/etc, /lib/systemd/system) stay inside it.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER
    "Seed 9745a28b maintainers <maintainers@users.noreply.r-seed-9745a28b.example>")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies come from dpkg-shlibdeps (dpkg-dev) and are appended to these: adduser for
# postinst; deb-systemd-helper (init-system-helpers) is optional, the scripts check for it.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "streaming export-control auditing of cloud and GPU logs")
# The extended description; CPack puts the summary above it as the synopsis line.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"chipwatch is a log-auditing daemon for security operations. It consumes cloud
API logs (AWS CloudTrail, GCP Cloud Audit Logs, Azure Activity Logs) and
GPU-allocation logs (Kubernetes audit, GPU schedulers, Slurm) from Kafka and
files, and raises an alert within seconds when export-controlled AI
accelerators or frontier AI models are provisioned, allocated or invoked from
restricted destinations or regions, or by restricted or unverified parties.

The policy is data: YAML rules and catalogs with sources and effective dates.
The package ships a default pack, a hardened systemd service and the
chipwatch check, test and replay tools.")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${chipwatch_pkg_src}/debian/postinst" "${chipwatch_pkg_src}/debian/prerm"
    "${chipwatch_pkg_src}/debian/postrm" "${chipwatch_pkg_src}/debian/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
