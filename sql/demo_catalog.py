"""The vocabulary of the demo CRM: Indonesian cities, regional name pools, operators, labels.

Pure data, no logic. Weights are rough shares (they are normalised where used); lists of
names are ordered from common to rare, because the generator draws early entries more often.
"""

from __future__ import annotations

from dataclasses import dataclass

WIB, WITA, WIT = "Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"
UTC_OFFSET_HOURS = {WIB: 7, WITA: 8, WIT: 9}


@dataclass(frozen=True)
class NamePool:
    """Given names and family/second names of one regional naming tradition."""

    male: tuple[str, ...]
    female: tuple[str, ...]
    last_male: tuple[str, ...]
    last_female: tuple[str, ...]
    single_name_share: float  # many Indonesians go by one name


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


POOLS: dict[str, NamePool] = {
    "javanese": NamePool(
        _names("Budi, Agus, Joko, Eko, Bambang, Slamet, Dwi, Adi, Wahyu, Hadi, Bayu, Teguh,"
               "Sugeng, Heru, Rudi, Arif, Dimas, Fajar, Galih, Aditya, Anton, Hendro, Yudi,"
               "Sutrisno, Supriyadi, Suparman, Wawan, Ari, Gilang, Tri"),
        _names("Siti, Sri, Dewi, Ayu, Rina, Wulan, Endang, Indah, Ratna, Yuni, Retno, Dian,"
               "Fitri, Sari, Puji, Ani, Kartika, Nur, Tri, Wahyu, Puspita, Rini, Lestari,"
               "Suryani, Ningsih, Eni, Tutik, Sulastri, Mega, Anggun"),
        _names("Santoso, Setiawan, Wibowo, Susanto, Prasetyo, Nugroho, Hidayat, Saputra,"
               "Kurniawan, Purnomo, Widodo, Gunawan, Hartono, Utomo, Pratama, Haryanto,"
               "Sulistyo, Susilo, Wijayanto, Budiman, Mulyono, Firmansyah, Kusuma, Suryadi"),
        _names("Rahayu, Lestari, Wahyuni, Handayani, Puspitasari, Ningsih, Susanti,"
               "Yuliani, Wulandari, Kusumawati, Purwanti, Setyowati, Anggraini, Utami,"
               "Suryaningsih, Safitri, Pratiwi, Hastuti, Widyastuti, Maharani"),
        0.22,
    ),
    "sundanese": NamePool(
        _names("Asep, Ujang, Dede, Cecep, Yayan, Ade, Dadang, Iwan, Deden, Ridwan, Hendra,"
               "Jajang, Wawan, Aep, Encep, Gilang, Rangga, Dodi, Rizal, Ahmad"),
        _names("Euis, Neng, Imas, Yeni, Elis, Tati, Nina, Rini, Lilis, Nia, Siti, Ai, Cucu,"
               "Rina, Desi, Yanti, Rosita, Intan, Dewi, Iis"),
        _names("Sunandar, Supriatna, Hidayat, Permana, Suryana, Sudrajat, Rustandi,"
               "Saepudin, Hermawan, Kurniawan, Setiadi, Ramdani, Nugraha, Mulyana, Maulana,"
               "Gunawan, Firmansyah, Wijaya"),
        _names("Nurhasanah, Rohayati, Suryani, Kurniasih, Komalasari, Herawati, Rahmawati,"
               "Nurjanah, Sumiati, Permatasari, Purnamasari, Handayani, Mulyani, Sopiah"),
        0.12,
    ),
    "muslim_urban": NamePool(
        _names("Muhammad, Ahmad, Rizki, Abdul, Fauzi, Ilham, Faisal, Reza, Rahmat, Irfan,"
               "Fikri, Yusuf, Hasan, Ismail, Hafiz, Ibrahim, Hamzah, Syahrul, Aziz, Rafi,"
               "Fadli, Arya, Dimas, Aldi, Rizal, Farhan, Naufal, Raka"),
        _names("Nur, Putri, Aisyah, Nurul, Annisa, Fatimah, Salsabila, Zahra, Nabila, Aulia,"
               "Syifa, Rahma, Amalia, Intan, Anisa, Dinda, Kirana, Nadia, Alya, Khadijah,"
               "Rania, Aqila, Tiara, Citra"),
        _names("Hidayat, Ramadhan, Firmansyah, Maulana, Syahputra, Hakim, Rahman, Saputra,"
               "Pratama, Akbar, Fauzan, Iskandar, Kurniawan, Setiawan, Hamid, Abdullah,"
               "Nasrullah, Syamsudin, Alfarizi, Ananda"),
        _names("Rahmawati, Fitriani, Ramadhani, Safitri, Maharani, Azzahra, Oktaviani,"
               "Putri, Lestari, Anggraini, Amelia, Febriani, Wulandari, Apriliani,"
               "Nurhaliza, Kusumawati, Aprilia, Khairunnisa"),
        0.10,
    ),
    "batak": NamePool(
        _names("Togar, Parlindungan, Bonar, Martua, Hotman, Johannes, Daniel, Samuel, Poltak,"
               "Sahat, Binsar, Ronald, Hendrik, Tigor, Marihot, Roy, Frans, Anton, Jonathan,"
               "Rudolf, Benny, Edward"),
        _names("Rosmawati, Tiurma, Rotua, Lasma, Romauli, Maria, Ruth, Elisabeth, Debora,"
               "Hotmaida, Lusiana, Dameria, Sartika, Juliana, Erna, Nurhayati, Rosida, Tetty"),
        _names("Siregar, Simanjuntak, Nasution, Harahap, Sitompul, Hutapea, Sinaga, Panjaitan,"
               "Lubis, Simatupang, Pardede, Situmorang, Sihombing, Manurung, Hutagalung,"
               "Silalahi, Tambunan, Napitupulu, Sitorus, Pasaribu, Marpaung, Damanik, Saragih,"
               "Ginting, Tarigan, Sembiring, Purba, Simbolon"),
        (),  # Batak women carry the clan name too
        0.0,
    ),
    "minang": NamePool(
        _names("Rahmat, Fadli, Yusril, Andre, Rizky, Afdal, Irwan, Syafrizal, Zulkifli, Hendri,"
               "Dedi, Ferdi, Doni, Yogi, Rio, Indra, Roni, Ilham, Taufik, Khairul"),
        _names("Yulia, Fitri, Rahmi, Mutia, Silvia, Rina, Desi, Yessi, Lidya, Elvira, Sari,"
               "Suci, Nelly, Yolanda, Vivi, Rani, Wirda, Mira"),
        _names("Putra, Saputra, Syahputra, Chaniago, Koto, Piliang, Tanjung, Sikumbang, Jambak,"
               "Syafri, Hidayat, Zainal, Anwar, Marzuki, Abbas"),
        _names("Putri, Yanti, Wati, Sari, Rahmadani, Chaniago, Tanjung, Yusnita, Oktavia,"
               "Handayani, Susanti, Marlina"),
        0.08,
    ),
    "malay": NamePool(
        _names("Abdul, Rahman, Hasan, Zainal, Syarif, Firdaus, Hendra, Rizal, Azhar, Saiful,"
               "Ridho, Amir, Fahmi, Jamal, Hafiz, Wahyudi, Syamsul, Sulaiman, Muhammad"),
        _names("Siti, Norhayati, Aminah, Zubaidah, Farida, Halimah, Rosnah, Nurhaliza,"
               "Maimunah, Fauziah, Salmah, Juwita, Laila, Mariani, Noor, Rahmah"),
        _names("Syahrial, Effendi, Amran, Rahman, Ismail, Yusuf, Harun, Ramli, Hamdani,"
               "Zulkarnain, Fadillah, Anshari, Syahbana, Noor, Arsyad, Saleh"),
        _names("Rahmawati, Fitriani, Yusnita, Marlina, Zahara, Hasanah, Noviyanti, Safitri,"
               "Aryani, Hayati, Mardiana, Rosita"),
        0.10,
    ),
    "balinese": NamePool(
        _names("I Wayan, I Made, I Nyoman, I Ketut, I Putu, I Kadek, I Komang, I Gede,"
               "Gusti Ngurah, Anak Agung"),
        _names("Ni Wayan, Ni Made, Ni Putu, Ni Luh, Ni Kadek, Ni Nyoman, Ni Komang, Ni Ketut,"
               "Gusti Ayu, Anak Agung Ayu"),
        _names("Sudarsana, Suarjana, Wiranata, Artawan, Sukadana, Mahendra, Adnyana, Suardana,"
               "Putrawan, Widiana, Arsana, Budiarta, Parwata, Wirawan, Sanjaya, Suyasa"),
        _names("Sukarini, Puspawati, Suartini, Yuliani, Sriasih, Kusumawati, Ariani, Mahayani,"
               "Sulastri, Wardani, Sukmawati, Anggreni, Lestari, Wahyuni"),
        0.0,
    ),
    "bugis": NamePool(
        _names("Andi, Muhammad, Syamsul, Arifin, Ahmad, Basri, Rusdi, Hasanuddin, Iskandar,"
               "Jufri, Mansur, Irwan, Amiruddin, Syahrir, Haris, Akbar, Sudirman, Hamka"),
        _names("Andi, Sitti, Nurul, Hasnah, Rahmatia, Nurhayati, Megawati, Fatmawati,"
               "Hasniati, Jumriah, Darmawati, Nurjannah, Asriani, Rosmini"),
        _names("Rahman, Arifin, Syarif, Mappaseng, Amir, Latif, Hamid, Rauf, Nasir, Mustafa,"
               "Sulaiman, Jamaluddin, Saleh, Parenrengi, Tahir, Malik, Baso"),
        _names("Tenri, Rahmawati, Hasnawati, Amelia, Nurhaedah, Suriani, Ramlah, Nurwahidah,"
               "Syamsiah, Marlina, Rosmiati"),
        0.15,
    ),
    "minahasa": NamePool(
        _names("Christian, Jeffry, Stevie, Frangky, Johny, Rio, Ricky, Hendrik, Alfred, Novel,"
               "Denny, Marcel, Yosua, Reinhard, Vicky, Glenn, Jerry, Olly"),
        _names("Meiske, Vera, Angelia, Jein, Sherly, Grace, Vivi, Lusye, Novita, Deisy,"
               "Marlien, Olvie, Christine, Ivana, Stella, Natalia, Jessica, Meilany"),
        _names("Wenas, Rumondor, Lumintang, Pangemanan, Tumbelaka, Sondakh, Kalangi,"
               "Rondonuwu, Mandagi, Pelealu, Kandou, Lengkong, Sumual, Walangitan, Karundeng,"
               "Tambuwun, Manoppo, Runtuwene, Mamahit, Supit"),
        (),
        0.0,
    ),
    "maluku_ntt": NamePool(
        _names("Yohanis, Markus, Yance, Paulus, Petrus, Samuel, Daniel, Frans, Dominggus,"
               "Yakob, Simon, Jefri, Elia, Abraham, Nikolas, Agus"),
        _names("Maria, Yuliana, Martha, Agustina, Yohana, Elisabeth, Magdalena, Rosalina,"
               "Fransina, Selvi, Debora, Mince, Sarah, Ester, Novi"),
        _names("Pattiasina, Latuconsina, Wattimena, Tuhumury, Pattinama, Sahetapy,"
               "Leiwakabessy, Matulessy, Tupamahu, Lopulalan, Siahaya, Manuhutu, Talakua,"
               "Pelupessy, Ndolu, Manafe, Bureni, Lado"),
        (),
        0.0,
    ),
    "papuan": NamePool(
        _names("Yohanis, Markus, Yosias, Otto, Yulianus, Lukas, Benny, Natan, Melkias, Yance,"
               "Demianus, Herman, Matius, Titus, Ruben"),
        _names("Yuliana, Maria, Ester, Martha, Marice, Novita, Agustina, Yosina, Mince,"
               "Selfina, Lea, Rahel, Frida, Rosalina"),
        _names("Rumbiak, Wonda, Kogoya, Mandowen, Wenda, Yikwa, Tabuni, Karubaba, Rumkorem,"
               "Mayor, Ayomi, Sawaki, Wanimbo, Murib, Kambu, Krey, Rumaropen, Wambrauw"),
        (),
        0.0,
    ),
    "chinese_indonesian": NamePool(
        _names("Hendra, Kevin, Steven, William, Michael, Ferry, Eddy, Johan, Hartono, Rudy,"
               "Jimmy, Tommy, Vincent, Felix, Jonathan, Sugianto, Budi, Andy, Wilson, Ivan"),
        _names("Lily, Lina, Susan, Yenny, Melinda, Linda, Cindy, Fenny, Jessica, Stephanie,"
               "Christine, Meiliana, Vivian, Angela, Caroline, Shirley, Natalia, Veronica"),
        _names("Wijaya, Halim, Tanoto, Gunawan, Susanto, Kurniawan, Tjandra, Salim, Santoso,"
               "Hartanto, Setiadi, Lim, Tan, Wong, Liem, Sutanto, Kusuma, Gozali, Widjaja,"
               "Chandra, Tanuwijaya, Lie, Oei"),
        (),
        0.0,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class City:
    name: str
    timezone: str
    weight: float  # rough share of an online business's customers
    pools: dict[str, float]  # naming traditions of the people who live there


CITIES: tuple[City, ...] = (
    City("Jakarta", WIB, 14.0, {"muslim_urban": 30, "javanese": 28, "sundanese": 10,
         "chinese_indonesian": 12, "batak": 8, "minang": 6, "bugis": 3, "minahasa": 3}),
    City("Surabaya", WIB, 7.0, {"javanese": 68, "chinese_indonesian": 15, "muslim_urban": 14,
         "batak": 3}),
    City("Bandung", WIB, 6.0, {"sundanese": 74, "javanese": 10, "chinese_indonesian": 8,
         "muslim_urban": 8}),
    City("Bekasi", WIB, 4.0, {"muslim_urban": 30, "sundanese": 30, "javanese": 30, "batak": 10}),
    City("Tangerang", WIB, 4.0, {"muslim_urban": 30, "sundanese": 25, "javanese": 25,
         "chinese_indonesian": 15, "batak": 5}),
    City("Depok", WIB, 3.0, {"muslim_urban": 35, "sundanese": 30, "javanese": 30, "minang": 5}),
    City("Bogor", WIB, 3.0, {"sundanese": 65, "muslim_urban": 20, "javanese": 15}),
    City("Medan", WIB, 5.0, {"batak": 45, "javanese": 20, "chinese_indonesian": 15, "malay": 15,
         "minang": 5}),
    City("Semarang", WIB, 3.0, {"javanese": 80, "chinese_indonesian": 12, "muslim_urban": 8}),
    City("Yogyakarta", WIB, 2.5, {"javanese": 85, "muslim_urban": 10, "chinese_indonesian": 5}),
    City("Surakarta", WIB, 1.5, {"javanese": 88, "chinese_indonesian": 7, "muslim_urban": 5}),
    City("Malang", WIB, 2.0, {"javanese": 85, "muslim_urban": 10, "chinese_indonesian": 5}),
    City("Palembang", WIB, 2.5, {"malay": 60, "javanese": 25, "chinese_indonesian": 10,
         "minang": 5}),
    City("Padang", WIB, 1.5, {"minang": 90, "batak": 5, "javanese": 5}),
    City("Pekanbaru", WIB, 1.5, {"malay": 40, "minang": 35, "batak": 15, "javanese": 10}),
    City("Bandar Lampung", WIB, 1.5, {"javanese": 50, "malay": 30, "sundanese": 10,
         "muslim_urban": 10}),
    City("Denpasar", WITA, 2.5, {"balinese": 75, "javanese": 15, "muslim_urban": 10}),
    City("Makassar", WITA, 3.0, {"bugis": 78, "muslim_urban": 10, "chinese_indonesian": 6,
         "javanese": 6}),
    City("Balikpapan", WITA, 1.2, {"javanese": 40, "bugis": 30, "malay": 20, "minahasa": 10}),
    City("Samarinda", WITA, 1.2, {"malay": 35, "javanese": 35, "bugis": 30}),
    City("Banjarmasin", WITA, 1.2, {"malay": 80, "javanese": 15, "chinese_indonesian": 5}),
    City("Manado", WITA, 1.2, {"minahasa": 80, "chinese_indonesian": 10, "bugis": 10}),
    City("Mataram", WITA, 0.8, {"muslim_urban": 60, "balinese": 25, "javanese": 15}),
    City("Kupang", WITA, 0.5, {"maluku_ntt": 80, "javanese": 10, "bugis": 10}),
    City("Jayapura", WIT, 0.8, {"papuan": 50, "javanese": 20, "bugis": 15, "maluku_ntt": 15}),
    City("Ambon", WIT, 0.6, {"maluku_ntt": 80, "bugis": 10, "javanese": 10}),
    City("Sorong", WIT, 0.3, {"papuan": 55, "maluku_ntt": 25, "bugis": 20}),
)  # fmt: skip

#: Mobile operators' national prefixes (after +62) with a rough market share per operator.
OPERATORS: dict[str, tuple[float, tuple[str, ...]]] = {
    "Telkomsel": (50.0, ("811", "812", "813", "821", "822", "823", "851", "852", "853")),
    "Indosat": (20.0, ("814", "815", "816", "855", "856", "857", "858")),
    "XL": (17.0, ("817", "818", "819", "859", "877", "878")),
    "Tri": (7.0, ("895", "896", "897", "898", "899")),
    "Axis": (4.0, ("831", "832", "833", "838")),
    "Smartfren": (2.0, ("881", "882", "883", "884", "885", "886", "887", "888", "889")),
}
#: Subscriber digits after the prefix: older numbers are shorter, newer ones longer.
SUBSCRIBER_LENGTHS: dict[int, float] = {7: 0.15, 8: 0.70, 9: 0.15}

TIERS = ("bronze", "silver", "gold", "platinum")
#: Lower bound of total spend (IDR) for each tier above bronze.
TIER_THRESHOLDS_IDR = (1_000_000, 3_000_000, 10_000_000)

CHANNELS: dict[str, float] = {
    "instagram": 24,
    "shopee": 18,
    "tokopedia": 14,
    "tiktok_shop": 12,
    "referral": 10,
    "walk_in": 9,
    "website": 8,
    "facebook": 5,
}

#: Demo labels with their colour; who gets which is decided in demo_generate.
LABELS: dict[str, str] = {
    "vip": "#d4a017",
    "loyal": "#2e7d32",
    "new_customer": "#1e88e5",
    "promo": "#8e24aa",
    "reseller": "#00897b",
    "wholesale": "#5d4037",
    "dropshipper": "#6d4c41",
    "complaint": "#c62828",
    "inactive": "#757575",
    "follow_up": "#ef6c00",
}
