/* Function names as users write them: C names, C++ qualified names
 * (ns::Class::method), templates (make<int>, or make for all of them) and
 * signatures (ns::f(int)) for one overload. Pure text, unit-tested. */
#ifndef MEMPROF_NAMES_H
#define MEMPROF_NAMES_H

#include <stdbool.h>

/* Whether SPEC names the function whose DWARF name is PLAIN ("add",
 * "make<long int>"), qualified name QUALIFIED ("shop::Cart::add") and
 * demangled linkage name DEMANGLED ("shop::Cart::add(int)", or NULL). */
bool names_match(const char *spec, const char *plain, const char *qualified,
		 const char *demangled);

/* The demangled form of a C++ linkage name, as a new string; NULL when it
 * is not one or cannot be demangled here. */
char *names_demangle(const char *linkage);

#endif
