# cmake -DIN=profile.json -DOUT=file.cc -P embed_json.cmake: the JSON as a C++ string constant.
file(READ ${IN} text)
string(FIND "${text}" ")berthjson\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw string delimiter")
endif()
file(WRITE ${OUT}.tmp "// Generated from ${IN}; do not edit.\nnamespace berth::oci {\nextern const char kSeccompDefaultJson[];\nconst char kSeccompDefaultJson[] = R\"berthjson(${text})berthjson\";\n}  // namespace berth::oci\n")
file(RENAME ${OUT}.tmp ${OUT})
