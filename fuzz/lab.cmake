# asx-lab trace reader (traces are files users pass around: untrusted input).
if(TARGET asx_lab)
  find_package(OpenSSL REQUIRED)
  asx_fuzz(fuzz_lab_trace SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_lab_trace.c LIBS asx_lab OpenSSL::Crypto)
endif()
