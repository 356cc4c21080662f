/* Parses an array of N small objects five times with cJSON: the hot
 * function is its recursive parse_value. */
#include <stdio.h>
#include <stdlib.h>

#include "cJSON.h"

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	size_t len = 0;
	char *text = malloc((size_t)n * 64 + 16);
	long sum = 0;

	if (!text)
		return 1;
	len += (size_t)sprintf(text, "[");
	for (int i = 0; i < n; i++)
		len += (size_t)sprintf(text + len,
				       "%s{\"id\":%d,\"name\":\"item%d\","
				       "\"v\":[1,2,3]}",
				       i ? "," : "", i, i);
	sprintf(text + len, "]");
	for (int round = 0; round < 5; round++) {
		cJSON *doc = cJSON_Parse(text), *item;

		cJSON_ArrayForEach(item, doc)
			sum += cJSON_GetObjectItem(item, "id")->valueint;
		cJSON_Delete(doc);
	}
	printf("%ld\n", sum);
	free(text);
	return 0;
}
