#!/usr/bin/perl
# Writes the tiny GeoIP test databases used by tests/unit/enrich/geoip_test.cc.
#
#   perl tests/tools/make_test_mmdb.pl OUTDIR
#
# Produces, from the same table of documentation / well-known ranges:
#   OUTDIR/test-country.mmdb  MaxMind layout: {country: {iso_code}}, plus one range that only has
#                             {registered_country: {iso_code}} to exercise the fallback;
#   OUTDIR/test-flat.mmdb     the flat layout of free databases (ip-location-db's
#                             geo-whois-asn-country): {country_code};
#   OUTDIR/test-asn.mmdb      a database without any country data (Open must reject it).
# Needs Debian's libmaxmind-db-writer-perl. Check the output with
#   mmdblookup --file OUTDIR/test-country.mmdb --ip 1.202.3.4 country iso_code
# The databases carry a fixed build_epoch so that regenerating them is byte-for-byte reproducible.
use strict;
use warnings;

use MaxMind::DB::Writer::Tree;

my $outdir = shift @ARGV or die "usage: $0 OUTDIR\n";
-d $outdir or die "$outdir: not a directory\n";

my @ranges = (
    ['1.202.0.0/16',     'CN'],
    ['36.110.0.0/16',    'CN'],
    ['5.255.255.0/24',   'RU'],
    ['2.144.0.0/14',     'IR'],
    ['175.45.176.0/22',  'KP'],
    ['81.23.0.0/16',     'AE'],
    ['3.0.0.0/8',        'US'],
    ['203.0.113.0/24',   'US'],
    ['198.51.100.0/24',  'DE'],
    # The anonymized source of the stratus-red-team Bedrock capture (tests/data/real/), placed in a
    # restricted destination so that the real events exercise CW-AI-001/002 end to end.
    ['35.249.0.0/16',    'RU'],
    ['2001:db8:cc::/48', 'CN'],
    ['2001:db8:de::/48', 'DE'],
);
# Only registered_country in the MaxMind layout (e.g. an anycast or satellite range).
my $registered_only = ['192.0.2.0/24', 'HK'];

my $build_epoch = 1700000000;

sub new_tree {
    my ($type, $description, $types) = @_;
    return MaxMind::DB::Writer::Tree->new(
        ip_version            => 6,
        record_size           => 24,
        database_type         => $type,
        languages             => ['en'],
        description           => {en => $description},
        map_key_type_callback => sub { $types->{$_[0]} },
        merge_strategy        => 'none',
        alias_ipv6_to_ipv4    => 1,
        remove_reserved_networks => 0,
    );
}

sub write_tree {
    my ($tree, $path) = @_;
    open my $fh, '>:raw', $path or die "$path: $!\n";
    $tree->write_tree($fh);
    close $fh or die "$path: $!\n";
}

my %maxmind_types = (
    country            => 'map',
    registered_country => 'map',
    iso_code           => 'utf8_string',
    geoname_id         => 'uint32',
);
my $country = new_tree('chipwatch-Test-Country', 'chipwatch test database (MaxMind layout)',
                       \%maxmind_types);
for my $r (@ranges) {
    $country->insert_network($r->[0],
        {country => {iso_code => $r->[1]}, registered_country => {iso_code => $r->[1]}});
}
$country->insert_network($registered_only->[0],
    {registered_country => {iso_code => $registered_only->[1]}});

my $flat = new_tree('geo-whois-asn-country', 'chipwatch test database (flat country_code layout)',
                    {country_code => 'utf8_string'});
for my $r (@ranges) {
    $flat->insert_network($r->[0], {country_code => $r->[1]});
}

my $asn = new_tree('chipwatch-Test-ASN', 'chipwatch test database without country data',
                   {autonomous_system_number => 'uint32', autonomous_system_organization => 'utf8_string'});
$asn->insert_network('3.0.0.0/8',
    {autonomous_system_number => 16509, autonomous_system_organization => 'AMAZON-02'});

for my $pair ([$country, 'test-country.mmdb'], [$flat, 'test-flat.mmdb'], [$asn, 'test-asn.mmdb']) {
    # The module's own hook for reproducible output (its tests use it the same way).
    $pair->[0]->_set_build_epoch($build_epoch);
    write_tree($pair->[0], "$outdir/$pair->[1]");
}
