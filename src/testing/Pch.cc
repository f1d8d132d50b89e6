// The translation unit that builds the test executables' shared precompiled header
// (src/CMakeLists.txt: reka_test_pch).
