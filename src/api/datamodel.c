/* datamodel: lookups over the generated XenAPI tables. */
#include "api/datamodel.h"

#include <string.h>
#include <strings.h>

int
dm_class_find(const char *name)
{
	for (int c = 0; c < DMC__COUNT; c++)
		if (strcmp(dm_classes[c].name, name) == 0)
			return c;
	return -1;
}

int
dm_class_find_ci(const char *name)
{
	for (int c = 0; c < DMC__COUNT; c++)
		if (strcasecmp(dm_classes[c].name, name) == 0)
			return c;
	return -1;
}

int
dm_field_find(int c, const char *name)
{
	const struct dm_class *k = &dm_classes[c];
	for (size_t i = 0; i < k->nfields; i++)
		if (strcmp(k->fields[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
dm_field_find_db(int c, const char *db_name)
{
	const struct dm_class *k = &dm_classes[c];
	for (size_t i = 0; i < k->nfields; i++)
		if (strcmp(k->fields[i].db_name, db_name) == 0)
			return (int)i;
	return -1;
}

const struct dm_message *
dm_message_find(int c, const char *name)
{
	const struct dm_class *k = &dm_classes[c];
	for (size_t i = 0; i < k->nmsgs; i++)
		if (strcmp(k->msgs[i].name, name) == 0)
			return &k->msgs[i];
	return NULL;
}

int
dm_enum_index(const struct dm_enum *en, const char *value)
{
	for (size_t i = 0; i < en->n; i++)
		if (strcmp(en->values[i], value) == 0)
			return (int)i;
	return -1;
}

int
dm_enum_index_ci(const struct dm_enum *en, const char *value)
{
	for (size_t i = 0; i < en->n; i++)
		if (strcasecmp(en->values[i], value) == 0)
			return (int)i;
	return -1;
}
