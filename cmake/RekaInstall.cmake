# `cmake --install`: the libraries, the public headers, RekaConfig.cmake (find_package(Reka
# CONFIG) gives Reka::reka) and reka.pc; the `reka` command when it is built.
include(CMakePackageConfigHelpers)

get_property(reka_modules GLOBAL PROPERTY REKA_MODULES)
install(TARGETS reka ${reka_modules} EXPORT RekaTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/reka DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/include/reka/Version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/reka)
install(EXPORT RekaTargets NAMESPACE Reka:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Reka)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/RekaConfig.cmake.in ${PROJECT_BINARY_DIR}/RekaConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Reka)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/RekaConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/RekaConfig.cmake ${PROJECT_BINARY_DIR}/RekaConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Reka)

# reka.pc: the libraries in link order (users first, base last), then what they need.
set(reka_pc_libs "")
foreach(m reka_web reka_nexmark reka_sql reka_cep_rules reka_sql_syntax reka_cep reka_connector_registry reka_connector_kafka reka_connector_datagen reka_connectors
          reka_operators reka_runtime reka_graph reka_checkpoint reka_time reka_state reka_data reka_base)
  string(APPEND reka_pc_libs " -l${m}")
endforeach()
set(reka_pc_flags "")
if(REKA_SANITIZE)
  set(reka_pc_flags " -fsanitize=${REKA_SANITIZE}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/reka.pc.in ${PROJECT_BINARY_DIR}/reka.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/reka.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

if(TARGET reka_cli)
  install(TARGETS reka_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
