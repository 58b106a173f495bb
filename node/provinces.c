/*
 * provinces.c - the compiled-in province table.
 *
 * Source: deploy/provinces.tsv (a copy of the project's shared data file).
 * The rows were generated once from it, one per data line, in its order (by
 * code) and with its columns: code, node, name, kind, merged_from, borders.
 * When the file changes, regenerate them; the schema selftest checks the
 * count, order and node ids.
 *
 * Compiling the table in keeps node-id checks free of file I/O: the schema
 * validates every op on every apply.
 */
#include "provinces.h"

#include <stddef.h>
#include <string.h>

static const struct province table[PROVINCES_COUNT] = {
	{ "01", "ha-noi", "Hà Nội", "city",
	    "Hà Nội", "" },
	{ "04", "cao-bang", "Cao Bằng", "province",
	    "Cao Bằng", "CN" },
	{ "08", "tuyen-quang", "Tuyên Quang", "province",
	    "Tuyên Quang, Hà Giang", "CN" },
	{ "11", "dien-bien", "Điện Biên", "province",
	    "Điện Biên", "CN,LA" },
	{ "12", "lai-chau", "Lai Châu", "province",
	    "Lai Châu", "CN" },
	{ "14", "son-la", "Sơn La", "province",
	    "Sơn La", "LA" },
	{ "15", "lao-cai", "Lào Cai", "province",
	    "Lào Cai, Yên Bái", "CN" },
	{ "19", "thai-nguyen", "Thái Nguyên", "province",
	    "Thái Nguyên, Bắc Kạn", "" },
	{ "20", "lang-son", "Lạng Sơn", "province",
	    "Lạng Sơn", "CN" },
	{ "22", "quang-ninh", "Quảng Ninh", "province",
	    "Quảng Ninh", "CN" },
	{ "24", "bac-ninh", "Bắc Ninh", "province",
	    "Bắc Ninh, Bắc Giang", "" },
	{ "25", "phu-tho", "Phú Thọ", "province",
	    "Phú Thọ, Vĩnh Phúc, Hòa Bình", "" },
	{ "31", "hai-phong", "Hải Phòng", "city",
	    "Hải Phòng, Hải Dương", "" },
	{ "33", "hung-yen", "Hưng Yên", "province",
	    "Hưng Yên, Thái Bình", "" },
	{ "37", "ninh-binh", "Ninh Bình", "province",
	    "Ninh Bình, Hà Nam, Nam Định", "" },
	{ "38", "thanh-hoa", "Thanh Hóa", "province",
	    "Thanh Hóa", "LA" },
	{ "40", "nghe-an", "Nghệ An", "province",
	    "Nghệ An", "LA" },
	{ "42", "ha-tinh", "Hà Tĩnh", "province",
	    "Hà Tĩnh", "LA" },
	{ "44", "quang-tri", "Quảng Trị", "province",
	    "Quảng Trị, Quảng Bình", "LA" },
	{ "46", "hue", "Huế", "city",
	    "Thừa Thiên Huế", "LA" },
	{ "48", "da-nang", "Đà Nẵng", "city",
	    "Đà Nẵng, Quảng Nam", "LA" },
	{ "51", "quang-ngai", "Quảng Ngãi", "province",
	    "Quảng Ngãi, Kon Tum", "LA,KH" },
	{ "52", "gia-lai", "Gia Lai", "province",
	    "Gia Lai, Bình Định", "KH" },
	{ "56", "khanh-hoa", "Khánh Hòa", "province",
	    "Khánh Hòa, Ninh Thuận", "" },
	{ "66", "dak-lak", "Đắk Lắk", "province",
	    "Đắk Lắk, Phú Yên", "KH" },
	{ "68", "lam-dong", "Lâm Đồng", "province",
	    "Lâm Đồng, Đắk Nông, Bình Thuận", "KH" },
	{ "75", "dong-nai", "Đồng Nai", "province",
	    "Đồng Nai, Bình Phước", "KH" },
	{ "79", "ho-chi-minh", "Hồ Chí Minh", "city",
	    "Hồ Chí Minh, Bình Dương, Bà Rịa - Vũng Tàu", "" },
	{ "80", "tay-ninh", "Tây Ninh", "province",
	    "Tây Ninh, Long An", "KH" },
	{ "82", "dong-thap", "Đồng Tháp", "province",
	    "Đồng Tháp, Tiền Giang", "KH" },
	{ "86", "vinh-long", "Vĩnh Long", "province",
	    "Vĩnh Long, Bến Tre, Trà Vinh", "" },
	{ "91", "an-giang", "An Giang", "province",
	    "An Giang, Kiên Giang", "KH" },
	{ "92", "can-tho", "Cần Thơ", "city",
	    "Cần Thơ, Sóc Trăng, Hậu Giang", "" },
	{ "96", "ca-mau", "Cà Mau", "province",
	    "Cà Mau, Bạc Liêu", "" },
};

int
provinces_count(void)
{
	return PROVINCES_COUNT;
}

const struct province *
provinces_get(int i)
{
	if (i < 0 || i >= PROVINCES_COUNT)
		return NULL;
	return &table[i];
}

const struct province *
province_find(const char *node_id)
{
	int	i;

	if (node_id == NULL)
		return NULL;
	for (i = 0; i < PROVINCES_COUNT; i++) {
		if (strcmp(table[i].node, node_id) == 0)
			return &table[i];
	}
	return NULL;
}
